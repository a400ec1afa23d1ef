import Foundation
import LoomCheckpoint
import LoomNN
import LoomTensor

/// A CTC head over a Whisper encoder's output frames: a Linear from d_model to the blank (class 0)
/// and the words. An encoder pretrained with one (as Loom's demo audio encoder is) can publish it
/// beside its weights as `ctc_head.safetensors` (`words.weight` [V, D], `words.bias` [V]; the words,
/// blank first, as a JSON array in the metadata's "vocabulary"). The audio modality's `ctc_words`
/// option reads it to hand the connector one feature per spoken word (CTC compression).
public final class WhisperCTCHead: Module {
    public static let fileName = "ctc_head.safetensors"

    @Child public var words: Linear
    /// Class names, index 0 the blank.
    public let vocabulary: [String]

    public init(dModel: Int, vocabulary: [String]) {
        precondition(vocabulary.count >= 2, "a CTC head needs the blank and at least one word")
        self.vocabulary = vocabulary
        words = Linear(dModel, vocabulary.count)
    }

    /// [B, P, D] → logits [B, P, V]
    public func callAsFunction(_ hidden: Tensor) -> Tensor { words(hidden) }

    /// Reads `ctc_head.safetensors` from an encoder folder.
    public static func load(directory: String, dModel: Int) throws -> WhisperCTCHead {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw WhisperInputError("\(directory) has no \(fileName): the ctc_words option needs the CTC head the encoder was pretrained with")
        }
        let file = try SafetensorsFile(path: path)
        guard let text = file.metadata["vocabulary"],
              let vocabulary = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String], vocabulary.count >= 2 else {
            throw WhisperInputError("\(path): the metadata needs \"vocabulary\", a JSON array of the blank and the words")
        }
        let head = WhisperCTCHead(dModel: dModel, vocabulary: vocabulary)
        try head.load(from: file, description: path)
        return head
    }

    /// Writes the head into an encoder folder.
    public func write(to directory: String) throws {
        let data = try JSONSerialization.data(withJSONObject: vocabulary)
        try SafetensorsWriter.write(namedParameters().map { SafetensorsWriter.Entry($0.key, $0.tensor) },
                                    metadata: ["format": "pt", "vocabulary": String(decoding: data, as: UTF8.self)],
                                    to: URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path)
    }

    /// What `wordFeatures` averages over a word's frames.
    public enum WordFeature: String, Sendable {
        /// The encoder's hidden states (d_model wide).
        case hidden
        /// The head's class probabilities (blank and words; `vocabulary.count` wide), as LegoSLM
        /// feeds a language model CTC posteriors: a connector then learns one vector per word.
        case posterior
    }

    /// One feature per word the head emits, in order, in `slots` rows: for each word the mean over its
    /// frames (a run of frames whose best class is that word) of `feature`, then zero rows.
    /// [B, P, D] → [B, slots, D or V]. Differentiable in `hidden` (a batched product with the
    /// frame-averaging weights). Throws when a clip has more words than slots.
    public func wordFeatures(_ hidden: Tensor, slots: Int, feature: WordFeature = .hidden) throws -> Tensor {
        try wordFeaturesAndCounts(hidden, slots: slots, feature: feature).features
    }

    /// `wordFeatures` and the number of words of each clip (its leading rows that are not zero).
    public func wordFeaturesAndCounts(_ hidden: Tensor, slots: Int, feature: WordFeature = .hidden) throws -> (features: Tensor, counts: [Int]) {
        let (b, p) = (hidden.shape[0], hidden.shape[1])
        let scores = self(hidden)
        let segments = withoutGradients { ctcGreedySegments(scores: scores) }
        var weights = [Float](repeating: 0, count: b * slots * p)
        for (i, words) in segments.enumerated() {
            guard words.count <= slots else {
                throw WhisperInputError("a clip has \(words.count) spoken words, more than ctc_words \(slots): raise the option")
            }
            for (slot, word) in words.enumerated() {
                let w = 1 / Float(word.frames.count)
                for f in word.frames { weights[(i * slots + slot) * p + f] = w }
            }
        }
        let frames = feature == .hidden ? hidden : softmax(scores, axis: -1)
        return (matmul(Tensor(shape: [b, slots, p], scalars: weights), frames), segments.map(\.count))
    }
}
