import LoomAdapters
import LoomNN
import LoomTensor

/// Frozen encoders and trainable connectors around a LLaMA-family language model: the model both
/// training stages run. Keys: `language_model.*`, `modalities.<name>.encoder.*`,
/// `modalities.<name>.connector.*`.
public final class MultimodalLM: Module {
    public let languageModel: LlamaForCausalLM
    public private(set) var modalities: [ModalityBinding]
    /// Modalities whose connector outputs are replaced by zeros (an ablation: how much do the
    /// adapters matter?). Empty in training.
    public var zeroedModalities: Set<String> = []

    public init(languageModel: LlamaForCausalLM, modalities: [ModalityBinding] = []) {
        self.languageModel = languageModel
        self.modalities = modalities
    }

    public override var children: [(key: String, module: Module)] {
        [("language_model", languageModel)] + modalities.map { ("modalities.\($0.name)", $0) }
    }

    public func modality(_ name: String) -> ModalityBinding? { modalities.first { $0.name == name } }

    /// Input embeddings [B, T, D] with each modality's connector outputs written into its slots
    /// (flat positions b·T + t, item-major, as the collator lays them out).
    public func inputEmbeddings(inputIds: IntTensor, media: [(name: String, inputs: Tensor, slots: [Int])]) throws -> Tensor {
        let (b, t) = (inputIds.shape[0], inputIds.shape[1])
        let embeddings = try languageModel.embed(inputIds)                        // [B, T, D]
        let d = embeddings.shape[2]
        var flat = embeddings.reshaped([b * t, d])                                // [B·T, D]
        for item in media {
            guard let binding = modality(item.name) else {
                throw ModalityError("the batch has \(item.name) inputs but the model has no \(item.name) modality (it has: \(modalities.map(\.name).joined(separator: ", ")))")
            }
            var tokens = try binding.embed(item.inputs)                           // [I, M, D]
            if zeroedModalities.contains(item.name) { tokens = Tensor(zeros: tokens.shape) }
            let rows = tokens.reshaped([-1, d])
            guard rows.shape[0] == item.slots.count else {
                throw ModalityError("\(item.name): the connector made \(rows.shape[0]) tokens for \(item.slots.count) slots (inputs \(describe(item.inputs.shape)))")
            }
            flat = try scatteringRows(flat, rows, at: item.slots)
        }
        return flat.reshaped([b, t, d])
    }

    /// Logits [B, T, V].
    public func logits(inputIds: IntTensor, media: [(name: String, inputs: Tensor, slots: [Int])], attentionMask: [Bool]?) throws -> Tensor {
        languageModel.logits(embeddings: try inputEmbeddings(inputIds: inputIds, media: media), attentionMask: attentionMask)
    }

    /// Next-token cross-entropy: position t predicts labels[t+1]; −100 is ignored. `.mean` averages
    /// over this batch's supervised tokens; `.sum` lets the caller divide by a larger count (gradient
    /// accumulation over micro-batches).
    public func loss(inputIds: IntTensor, labels: IntTensor, media: [(name: String, inputs: Tensor, slots: [Int])],
                     attentionMask: [Bool]?, reduction: LossReduction = .mean) throws -> Tensor {
        try languageModel.loss(embeddings: try inputEmbeddings(inputIds: inputIds, media: media), labels: labels,
                               attentionMask: attentionMask, reduction: reduction)
    }
}
