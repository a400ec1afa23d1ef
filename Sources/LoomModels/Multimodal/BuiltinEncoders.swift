import LoomNN
import LoomTensor

/// A CLIP vision tower as an image encoder, with LLaVA's feature selection: `hidden_states[layer]`
/// (−2 by default), without the CLS token unless `keepsCLS` ("full").
public final class CLIPImageEncoder: Module, ModalityEncoder {
    public let tower: CLIPVisionModel
    public let layer: Int
    public let keepsCLS: Bool

    public init(tower: CLIPVisionModel, layer: Int = -2, keepsCLS: Bool = false) {
        self.tower = tower
        self.layer = layer
        self.keepsCLS = keepsCLS
    }

    public override var children: [(key: String, module: Module)] { [("tower", tower)] }

    public var featureDimension: Int { tower.config.hiddenSize }

    public func featureTokenCount(inputShape: [Int]) -> Int {
        let side = tower.config.imageSize / tower.config.patchSize
        return side * side + (keepsCLS ? 1 : 0)
    }

    /// pixel_values [B, 3, S, S] → [B, P(+1), C]
    public func encode(_ inputs: Tensor) throws -> Tensor {
        let states = try tower.hiddenState(inputs, at: layer)
        return keepsCLS ? states : states.sliced(axis: 1, 1..<states.shape[1])
    }
}

/// A Whisper encoder as an audio encoder: input_features [B, mels, frames] → [B, frames/2, D]; or,
/// with a CTC head and a slot count (the audio modality's `ctc_words`), one feature per spoken word
/// (the mean over the frames the head emits it on of the hidden state, or with `wordFeature`
/// `.posterior` of the head's class probabilities) in `wordSlots` rows, zero rows after the last word.
public final class WhisperAudioEncoder: Module, ModalityEncoder {
    public let encoder: WhisperEncoder
    /// Not a child: it is part of the frozen feature selection, not of the model's checkpoint keys.
    public let ctcHead: WhisperCTCHead?
    public let wordSlots: Int?
    public let wordFeature: WhisperCTCHead.WordFeature

    public init(encoder: WhisperEncoder, ctcHead: WhisperCTCHead? = nil, wordSlots: Int? = nil,
                wordFeature: WhisperCTCHead.WordFeature = .hidden) {
        precondition((ctcHead == nil) == (wordSlots == nil), "word features need both a CTC head and a slot count")
        precondition(wordSlots.map { $0 > 0 } ?? true, "word slots must be positive")
        precondition(ctcHead.map { $0.words.weight.shape[1] == encoder.config.dModel } ?? true, "the CTC head reads d_model features")
        self.encoder = encoder
        self.ctcHead = ctcHead
        self.wordSlots = wordSlots
        self.wordFeature = wordFeature
    }

    public override var children: [(key: String, module: Module)] { [("encoder", encoder)] }

    public var featureDimension: Int { featureVocabulary?.count ?? encoder.config.dModel }

    public func featureTokenCount(inputShape: [Int]) -> Int { wordSlots ?? encoder.config.maxSourcePositions }

    /// With `.posterior` word features: the head's classes, the blank as nil.
    public var featureVocabulary: [String?]? {
        guard let ctcHead, wordFeature == .posterior else { return nil }
        return [nil] + ctcHead.vocabulary.dropFirst().map { Optional($0) }
    }

    public func encode(_ inputs: Tensor) throws -> Tensor { try encodeWithLengths(inputs).features }

    /// With word features, the lengths are the words heard in each clip.
    public func encodeWithLengths(_ inputs: Tensor) throws -> (features: Tensor, lengths: [Int]?) {
        let hidden = try encoder(inputs)
        guard let ctcHead, let wordSlots else { return (hidden, nil) }
        let words = try ctcHead.wordFeaturesAndCounts(hidden, slots: wordSlots, feature: wordFeature)
        return (words.features, words.counts)
    }
}
