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

    /// What the language model reads: input embeddings [B, T, D] with each modality's connector
    /// outputs written into its slots (flat positions b·T + t, item-major, as the collator lays them
    /// out). When an encoder leaves slots empty (the rows after the words heard in a clip:
    /// `ModalityEncoder.encodeWithLengths`), the item's real tokens take its last slots and the empty
    /// ones are taken out of the sequence as if it had only the real tokens, as LLaVA splices features
    /// of varying length: off in the attention mask ([B·T]; `attentionMask` nil means every token
    /// real), and rotary positions [B·T] that skip them.
    /// Otherwise the mask is `attentionMask` and the positions nil (0 … T − 1).
    public func inputs(inputIds: IntTensor, media: [(name: String, inputs: Tensor, slots: [Int])],
                       attentionMask: [Bool]?) throws -> LanguageModelInputs {
        let (b, t) = (inputIds.shape[0], inputIds.shape[1])
        let embeddings = try languageModel.embed(inputIds)                        // [B, T, D]
        let d = embeddings.shape[2]
        var flat = embeddings.reshaped([b * t, d])                                // [B·T, D]
        var hidden = Set<Int>()
        for item in media {
            guard let binding = modality(item.name) else {
                throw ModalityError("the batch has \(item.name) inputs but the model has no \(item.name) modality (it has: \(modalities.map(\.name).joined(separator: ", ")))")
            }
            var (tokens, lengths) = try binding.embedWithLengths(item.inputs)     // [I, M, D]
            if zeroedModalities.contains(item.name) { tokens = Tensor(zeros: tokens.shape) }
            let rows = tokens.reshaped([-1, d])
            guard rows.shape[0] == item.slots.count else {
                throw ModalityError("\(item.name): the connector made \(rows.shape[0]) tokens for \(item.slots.count) slots (inputs \(describe(item.inputs.shape)))")
            }
            var slots = item.slots
            if let lengths {
                // An item's real tokens take the last of its slots, so the token after the item is
                // predicted from its last real token; the slots before them are hidden.
                let m = tokens.shape[1]
                for (i, length) in lengths.enumerated() where length < m {
                    let own = item.slots[(i * m)..<((i + 1) * m)]
                    slots.replaceSubrange((i * m)..<((i + 1) * m), with: own.suffix(length) + own.prefix(m - length))
                    hidden.formUnion(own.prefix(m - length))
                }
            }
            flat = try scatteringRows(flat, rows, at: slots)
        }
        var mask = attentionMask, positions: [Int]?
        if !hidden.isEmpty {
            mask = (0..<(b * t)).map { !hidden.contains($0) && (attentionMask?[$0] ?? true) }
            var p = [Int](repeating: 0, count: b * t)
            for row in 0..<b {
                var next = 0
                for k in (row * t)..<((row + 1) * t) {
                    p[k] = next
                    if !hidden.contains(k) { next += 1 }
                }
            }
            positions = p
        }
        return LanguageModelInputs(embeddings: flat.reshaped([b, t, d]), attentionMask: mask, positions: positions)
    }

    /// Logits [B, T, V].
    public func logits(inputIds: IntTensor, media: [(name: String, inputs: Tensor, slots: [Int])], attentionMask: [Bool]?) throws -> Tensor {
        let x = try inputs(inputIds: inputIds, media: media, attentionMask: attentionMask)
        return languageModel.logits(embeddings: x.embeddings, attentionMask: x.attentionMask, positions: x.positions)
    }

    /// Next-token cross-entropy: position t predicts labels[t+1]; −100 is ignored. `.mean` averages
    /// over this batch's supervised tokens; `.sum` lets the caller divide by a larger count (gradient
    /// accumulation over micro-batches).
    public func loss(inputIds: IntTensor, labels: IntTensor, media: [(name: String, inputs: Tensor, slots: [Int])],
                     attentionMask: [Bool]?, reduction: LossReduction = .mean) throws -> Tensor {
        let x = try inputs(inputIds: inputIds, media: media, attentionMask: attentionMask)
        return try languageModel.loss(embeddings: x.embeddings, labels: labels, attentionMask: x.attentionMask, positions: x.positions,
                                      reduction: reduction)
    }
}

/// A multimodal batch as the language model reads it (`MultimodalLM.inputs`).
public struct LanguageModelInputs {
    /// [B, T, D]
    public var embeddings: Tensor
    /// [B·T], true for tokens attended to; nil: all.
    public var attentionMask: [Bool]?
    /// [B·T] rotary positions; nil: 0 … T − 1 in every row.
    public var positions: [Int]?
}
