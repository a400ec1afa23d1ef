import LoomTensor

/// Parameters that share a learning rate and a weight decay, like one entry of torch's
/// `optimizer.param_groups`.
///
/// `learningRate` is the group's *base* rate (the recipe's). An optimizer starts its
/// `learningRates` (the rates the next `step()` uses) from it, and a `LearningRateScheduler` sets
/// those to `learningRate × λ(k)`; the group itself never changes, so unlike torch no separate
/// `initial_lr` is needed to resume.
public struct ParameterGroup {
    public var parameters: [Tensor]
    public var learningRate: Double
    public var weightDecay: Double
    /// For logs and checkpoint metadata only (for example "decay", "no_decay", "mm_projector").
    public var name: String?

    public init(parameters: [Tensor], learningRate: Double, weightDecay: Double = 0, name: String? = nil) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.name = name
    }
}

extension ParameterGroup {
    /// The groups HF Trainer (and LLaVA's `LLaVATrainer.create_optimizer`) builds: trainable
    /// parameters that take weight decay, then the ones exempt from it with `weightDecay` 0.
    ///
    /// Parameters whose `requiresGradient` is false are left out, as the Trainer filters on
    /// `requires_grad`. Both groups are always returned (possibly empty) so that the flat parameter
    /// order, which keys optimizer state, does not depend on which names happen to be present.
    public static func splitByWeightDecay(
        _ namedParameters: [(name: String, parameter: Tensor)],
        learningRate: Double,
        weightDecay: Double,
        isExemptFromDecay: (String) -> Bool = isNoDecayParameterName
    ) -> [ParameterGroup] {
        var decayed: [Tensor] = []
        var exempt: [Tensor] = []
        for (name, parameter) in namedParameters where parameter.requiresGradient {
            if isExemptFromDecay(name) { exempt.append(parameter) } else { decayed.append(parameter) }
        }
        return [
            ParameterGroup(parameters: decayed, learningRate: learningRate, weightDecay: weightDecay, name: "decay"),
            ParameterGroup(parameters: exempt, learningRate: learningRate, weightDecay: 0, name: "no_decay"),
        ]
    }

    /// The default no-decay rule, on Hugging Face parameter names (`a.b.layers.3.input_layernorm.weight`):
    ///
    /// - any name containing `bias` (HF's `"bias" not in name` filter), or
    /// - any module in the path (every dotted component but the last) whose name contains `norm`, or
    ///   CLIP's misspelt `layrnorm` (`pre_layrnorm`).
    ///
    /// HF decides norms by module type (`nn.LayerNorm`, `LlamaRMSNorm`); Loom sees names only, so it
    /// matches the module names every supported checkpoint gives its norms: `norm`, `input_layernorm`,
    /// `post_attention_layernorm`, `layer_norm1`, `post_layernorm`, `final_layer_norm`, `norm_media`,
    /// `norm_latents`, `q_norm`. Matching is case-insensitive, as HF lowercases before its patterns.
    public static func isNoDecayParameterName(_ name: String) -> Bool {
        let lowered = name.lowercased()
        if lowered.contains("bias") { return true }
        let modules = lowered.split(separator: ".").dropLast()
        return modules.contains { $0.contains("norm") || $0.contains("layrnorm") }
    }
}
