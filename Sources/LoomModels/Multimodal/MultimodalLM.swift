import LoomAdapters
import LoomNN
import LoomTensor

/// One modality's items in a batch, as the model takes them.
public struct ModalityInputs {
    public var name: String
    /// Preprocessed inputs [I, …] (pixel_values, input_features).
    public var inputs: Tensor
    /// Flat positions b·T + t receiving the connector's outputs: I × tokens per item, item-major.
    public var slots: [Int]
    /// The file of each item, the key of the modality's feature cache; nil: nothing is cached.
    public var files: [String]?

    public init(name: String, inputs: Tensor, slots: [Int], files: [String]? = nil) {
        self.name = name
        self.inputs = inputs
        self.slots = slots
        self.files = files
    }
}

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
    /// (flat positions b·T + t, item-major, as the collator lays them out), and the attention mask
    /// ([B·T], nil: every token real) with the slots an encoder left empty turned off (the rows after
    /// the words heard in a clip: `ModalityEncoder.encodeWithLengths`).
    public func inputs(inputIds: IntTensor, media: [ModalityInputs],
                       attentionMask: [Bool]?) throws -> (embeddings: Tensor, attentionMask: [Bool]?) {
        let (b, t) = (inputIds.shape[0], inputIds.shape[1])
        let embeddings = try languageModel.embed(inputIds)                        // [B, T, D]
        let d = embeddings.shape[2]
        var flat = embeddings.reshaped([b * t, d])                                // [B·T, D]
        var mask = attentionMask
        for item in media {
            guard let binding = modality(item.name) else {
                throw ModalityError("the batch has \(item.name) inputs but the model has no \(item.name) modality (it has: \(modalities.map(\.name).joined(separator: ", ")))")
            }
            var (tokens, lengths) = try binding.embedWithLengths(item.inputs, files: item.files) // [I, M, D]
            if zeroedModalities.contains(item.name) { tokens = Tensor(zeros: tokens.shape) }
            let rows = tokens.reshaped([-1, d])
            guard rows.shape[0] == item.slots.count else {
                throw ModalityError("\(item.name): the connector made \(rows.shape[0]) tokens for \(item.slots.count) slots (inputs \(describe(item.inputs.shape)))")
            }
            flat = try scatteringRows(flat, rows, at: item.slots)
            if let lengths {
                let m = tokens.shape[1]
                var keep = mask ?? [Bool](repeating: true, count: b * t)
                for (i, length) in lengths.enumerated() where length < m {
                    for slot in item.slots[(i * m + length)..<((i + 1) * m)] { keep[slot] = false }
                }
                mask = keep
            }
        }
        return (flat.reshaped([b, t, d]), mask)
    }

    /// Logits [B, T, V].
    public func logits(inputIds: IntTensor, media: [ModalityInputs], attentionMask: [Bool]?) throws -> Tensor {
        let (embeddings, mask) = try inputs(inputIds: inputIds, media: media, attentionMask: attentionMask)
        return languageModel.logits(embeddings: embeddings, attentionMask: mask)
    }

    /// Next-token cross-entropy: position t predicts labels[t+1]; −100 is ignored. `.mean` averages
    /// over this batch's supervised tokens; `.sum` lets the caller divide by a larger count (gradient
    /// accumulation over micro-batches).
    public func loss(inputIds: IntTensor, labels: IntTensor, media: [ModalityInputs],
                     attentionMask: [Bool]?, reduction: LossReduction = .mean) throws -> Tensor {
        let (embeddings, mask) = try inputs(inputIds: inputIds, media: media, attentionMask: attentionMask)
        return try languageModel.loss(embeddings: embeddings, labels: labels, attentionMask: mask, reduction: reduction)
    }
}
