import LoomTensor

/// y = x·Wᵀ + b, weight stored [out, in] as in PyTorch checkpoints; optionally with a LoRA update
/// (PEFT's `lora.Linear`): y = x·Wᵀ + b + scale · B(A(dropout(x))).
///
/// A LoRA'd layer stores `lora_A.weight` [r, in] and `lora_B.weight` [out, r] next to `weight` and
/// `bias`, so its keys are PEFT's saved names once `base_model.model.` is stripped.
public final class Linear: Module {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor?
    /// LoRA's down-projection in → r (no bias); nil when the layer has no LoRA.
    @Child("lora_A") public var loraA: Linear?
    /// LoRA's up-projection r → out (no bias); nil when the layer has no LoRA.
    @Child("lora_B") public var loraB: Linear?

    /// alpha / r (alpha / √r with rsLoRA); 0 without LoRA.
    public private(set) var loraScale: Float = 0
    /// Dropout probability on the LoRA input path (training mode only).
    public private(set) var loraDropout: Float = 0
    /// Draws the LoRA dropout masks; seeded at attach time, advanced by every training-mode call.
    public var loraDropoutGenerator = RandomGenerator(seed: 0)
    /// True while scale·B·A is folded into `weight` (the LoRA path is then skipped).
    public private(set) var isLoRAMerged = false

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
        super.init()
        _loraA.wrappedValue = nil
        _loraB.wrappedValue = nil
    }

    /// The generator this thread's forward draws the LoRA dropout masks from: `loraDropoutGenerator`,
    /// or inside a `SampleParallel` shard the shard's own stream (seeded from it).
    public var dropoutGenerator: RandomGenerator {
        get { ShardRandomStreams.current?.generator(for: self, base: loraDropoutGenerator) ?? loraDropoutGenerator }
        set {
            if let streams = ShardRandomStreams.current { streams.update(newValue, for: self) } else { loraDropoutGenerator = newValue }
        }
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let loraA, let loraB, !isLoRAMerged else { return linear(x, weight: weight, bias: bias) }   // [..., out]
        let dropped = dropout(x, probability: loraDropout, generator: &dropoutGenerator, isTraining: isTraining)
        // y + scale · B(A(dropout(x))) as one op: the up-projection lands on the base output, and
        // without dropout the two input gradients share one buffer.
        return loraLinear(x, weight: weight, bias: bias, loraInput: dropped, loraA: loraA.weight, loraB: loraB.weight,
                          scale: loraScale)
    }
}

/// How a new LoRA pair is filled, as PEFT's `init_lora_weights`.
public enum LoRAInitialization: Sendable {
    /// `true` (PEFT's default): A ~ kaiming_uniform(a = √5) = U(−1/√in, 1/√in), B = 0, so the adapted
    /// layer starts equal to the base layer.
    case kaimingUniform
    /// `"gaussian"`: A ~ N(0, (1/r)²), B = 0.
    case gaussian
    /// `false`: A and B both as a fresh nn.Linear (U(−1/√fan_in, 1/√fan_in)), so B ≠ 0 (for tests).
    case random
}

extension Linear {
    /// True when a LoRA pair is attached.
    public var hasLoRA: Bool { loraA != nil }

    /// The LoRA rank r, or nil without LoRA.
    public var loraRank: Int? { loraA?.outFeatures }

    /// Attaches a LoRA pair of rank `rank`: scale = alpha / r (alpha / √r with `useRSLoRA`), dropout
    /// on the LoRA input in training mode. The base weight and bias are frozen, A and B train. Draws
    /// the initial values and the dropout seed from `generator`.
    public func attachLoRA(rank: Int, alpha: Float, useRSLoRA: Bool = false, dropout: Float = 0,
                           initialization: LoRAInitialization = .kaimingUniform, generator: inout RandomGenerator) {
        precondition(!hasLoRA, "this Linear already has a LoRA pair")
        precondition(rank > 0, "LoRA rank must be positive, got \(rank)")
        precondition(dropout >= 0 && dropout < 1, "LoRA dropout \(dropout) outside [0, 1)")
        let a = Linear(inFeatures, rank, bias: false)                                // weight [r, in]
        let b = Linear(rank, outFeatures, bias: false)                               // weight [out, r]
        // kaiming_uniform_(a=√5) on [fan_out, fan_in]: gain √(2/(1+5)), bound = gain·√(3/fan_in) = 1/√fan_in.
        func kaiming(_ w: Tensor) {
            let bound = 1 / Float(w.shape[1]).squareRoot()
            Kernels.copy(Tensor.randomUniform(w.shape, low: -bound, high: bound, generator: &generator), into: w)
        }
        switch initialization {
        case .kaimingUniform: kaiming(a.weight)
        case .gaussian: Kernels.copy(Tensor.randomNormal(a.weight.shape, std: 1 / Float(rank), generator: &generator), into: a.weight)
        case .random: kaiming(a.weight); kaiming(b.weight)
        }
        weight.requiresGradient = false
        bias?.requiresGradient = false
        a.weight.requiresGradient = true
        b.weight.requiresGradient = true
        a.setTraining(isTraining)
        b.setTraining(isTraining)
        loraA = a
        loraB = b
        loraScale = useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank)
        loraDropout = dropout
        loraDropoutGenerator = RandomGenerator(seed: UInt64(generator.int(below: Int.max)))
        isLoRAMerged = false
    }

    /// Removes the LoRA pair. The base weight keeps whatever it holds: call `mergeLoRA()` first to
    /// keep the update (PEFT's merge_and_unload), or `unmergeLoRA()` to drop it.
    public func detachLoRA() {
        loraA = nil
        loraB = nil
        loraScale = 0
        loraDropout = 0
        isLoRAMerged = false
    }

    /// The update scale · B · A [out, in] (outside the graph).
    public func loraDelta() -> Tensor? {
        guard let loraA, let loraB else { return nil }
        return withoutGradients { matmul(loraB.weight.detached(), loraA.weight.detached()) * loraScale }
    }

    /// Folds scale·B·A into the base weight; while merged the forward skips the LoRA path (A and B
    /// then get no gradients). No-op without LoRA or when already merged.
    public func mergeLoRA() {
        guard !isLoRAMerged, let delta = loraDelta() else { return }
        addToWeight(delta, sign: 1)
        isLoRAMerged = true
    }

    /// Subtracts scale·B·A from the base weight again (equal to the original up to Float rounding).
    public func unmergeLoRA() {
        guard isLoRAMerged, let delta = loraDelta() else { return }
        addToWeight(delta, sign: -1)
        isLoRAMerged = false
    }

    private func addToWeight(_ delta: Tensor, sign: Float) {
        weight.storage.restoreFloat32()  // a base weight kept in bfloat16 takes the update in Float32
        delta.withUnsafeBufferPointer { d in
            weight.withUnsafeMutableBufferPointer { w in
                for i in 0..<w.count { w[i] += sign * d[i] }
            }
        }
    }
}

/// A token embedding table [count, dim].
public final class Embedding: Module {
    @Parameter public var weight: Tensor
    /// Row that gets no gradient (nn.Embedding's padding_idx).
    public var paddingIndex: Int?

    public init(_ count: Int, _ dim: Int, paddingIndex: Int? = nil) {
        self.weight = Tensor(zeros: [count, dim])
        self.paddingIndex = paddingIndex
    }

    public func callAsFunction(_ ids: IntTensor) throws -> Tensor {
        try embedding(ids, weight: weight, paddingIndex: paddingIndex)
    }
}

extension Linear: ShardedRandomSource {
    public func advanceSharedGenerator(by draws: UInt64) { loraDropoutGenerator.offset &+= draws }
}
