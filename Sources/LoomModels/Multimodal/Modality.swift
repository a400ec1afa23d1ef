import Foundation
import LoomAdapters
import LoomNN
import LoomTensor

/// A frozen encoder as a modality sees it: model inputs [B, …] → features [B, N, D].
public protocol ModalityEncoder: Module {
    /// D of the features.
    var featureDimension: Int { get }
    /// N for one input of the given shape (without the batch dim).
    func featureTokenCount(inputShape: [Int]) -> Int
    /// [B, …] → [B, N, D]
    func encode(_ inputs: Tensor) throws -> Tensor
    /// When each feature is a probability distribution over words (D entries, as CTC posteriors are):
    /// the word of each entry, nil for an entry that is no word (CTC's blank). Nil otherwise.
    var featureVocabulary: [String?]? { get }
    /// `encode`, and for an encoder that fills its N rows with fewer features (the words heard in a
    /// clip, then zero rows) how many leading rows of each input are real; nil when all N are.
    func encodeWithLengths(_ inputs: Tensor) throws -> (features: Tensor, lengths: [Int]?)
}

extension ModalityEncoder {
    public var featureVocabulary: [String?]? { nil }
    public func encodeWithLengths(_ inputs: Tensor) throws -> (features: Tensor, lengths: [Int]?) { (try encode(inputs), nil) }
}

/// Everything Loom needs to know about a modality: its name and placeholder, how to turn a file into
/// model inputs, and how to load its frozen encoder. Register one with `ModalityRegistry.register`.
public struct ModalityKind {
    public var name: String
    /// Placeholder in conversation text, e.g. "<image>".
    public var placeholder: String
    /// Builds the file → inputs function from the encoder folder (its preprocessor config) and options.
    public var makeProcessor: (_ folder: String, _ options: [String: String]) throws -> (_ file: String) throws -> Tensor
    /// Loads the frozen encoder with its feature selection.
    public var loadEncoder: (_ folder: String, _ options: [String: String]) throws -> ModalityEncoder
    /// The option names the two closures read; a recipe giving another is an error. nil: not checked.
    public var optionNames: Set<String>?

    public init(name: String, placeholder: String, optionNames: Set<String>? = nil,
                makeProcessor: @escaping (String, [String: String]) throws -> (String) throws -> Tensor,
                loadEncoder: @escaping (String, [String: String]) throws -> ModalityEncoder) {
        self.name = name
        self.placeholder = placeholder
        self.optionNames = optionNames
        self.makeProcessor = makeProcessor
        self.loadEncoder = loadEncoder
    }

    /// Throws when `options` names one this kind does not read.
    public func checkOptions(_ options: [String: String]) throws {
        guard let optionNames else { return }
        let unknown = options.keys.filter { !optionNames.contains($0) }.sorted()
        guard unknown.isEmpty else {
            let known = optionNames.isEmpty ? "none" : optionNames.sorted().joined(separator: ", ")
            throw ModalityError("modality \"\(name)\" does not take option(s) \(unknown.joined(separator: ", ")) (it takes: \(known))")
        }
    }
}

public struct ModalityError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Modality kinds by name. Loom registers its own ("image", "audio") where the data layer is wired
/// in; users add theirs from their own code, before building a model or loading a recipe.
public enum ModalityRegistry {
    nonisolated(unsafe) private static var kinds: [String: ModalityKind] = [:]
    private static let lock = NSLock()

    public static func register(_ kind: ModalityKind) {
        lock.lock(); defer { lock.unlock() }
        kinds[kind.name] = kind
    }

    public static func kind(_ name: String) throws -> ModalityKind {
        lock.lock(); defer { lock.unlock() }
        guard let kind = kinds[name] else {
            throw ModalityError("unknown modality \"\(name)\" (registered: \(kinds.keys.sorted().joined(separator: ", ")))")
        }
        return kind
    }

    public static var names: [String] {
        lock.lock(); defer { lock.unlock() }
        return kinds.keys.sorted()
    }
}

/// One modality inside a model: its frozen encoder and trainable connector.
public final class ModalityBinding: Module {
    public let name: String
    public let placeholder: String
    public let encoder: ModalityEncoder
    public let connector: Connector
    /// Features of files already encoded, read instead of encoding them again while the encoder is
    /// frozen (`TrainingRun` sets one per stage; nil: every item is encoded).
    public var featureCache: FeatureCache?

    public init(name: String, placeholder: String, encoder: ModalityEncoder, connector: Connector) {
        self.name = name
        self.placeholder = placeholder
        self.encoder = encoder
        self.connector = connector
    }

    public override var children: [(key: String, module: Module)] { [("encoder", encoder), ("connector", connector)] }

    /// Slots one input of this shape fills in the token sequence.
    public func tokenCount(inputShape: [Int]) -> Int {
        connector.outputTokenCount(inputTokens: encoder.featureTokenCount(inputShape: inputShape))
    }

    public var encoderTrains: Bool { encoder.parameters.contains { $0.requiresGradient } }

    /// Inputs [I, …] → LM embeddings [I, M, D_lm]. The encoder records no tape unless it trains.
    public func embed(_ inputs: Tensor) throws -> Tensor { try embedWithLengths(inputs).tokens }

    /// `embed`, and when the encoder reports real feature counts, how many leading tokens of each
    /// input hold them (the rest are slots the language model should not attend to). With `files`
    /// (one per input) and a feature cache, the features of files the cache holds are read from it
    /// (their inputs may be `FeatureCache.standIn` zeros) and the other inputs are encoded together.
    public func embedWithLengths(_ inputs: Tensor, files: [String]? = nil) throws -> (tokens: Tensor, lengths: [Int]?) {
        let (features, lengths) = encoderTrains ? try encoder.encodeWithLengths(inputs)
            : try withoutGradients { try encodeFrozen(inputs, files: files) }
        let total = features.shape[1]
        return (connector(features), lengths?.map { connector.outputTokenCount(coveringInputs: $0, of: total) })
    }

    /// The frozen encoder's features, from the cache where it holds them.
    func encodeFrozen(_ inputs: Tensor, files: [String]?) throws -> (features: Tensor, lengths: [Int]?) {
        guard let cache = featureCache, let files else { return try encoder.encodeWithLengths(inputs) }
        guard files.count == inputs.shape[0] else {
            throw ModalityError("\(name): \(files.count) files for \(inputs.shape[0]) inputs")
        }
        let held = files.map { cache.entry(for: $0) }
        let missing = held.indices.filter { held[$0] == nil }
        if missing.count == files.count { return try encoder.encodeWithLengths(inputs) }
        let encoded = missing.isEmpty ? nil
            : try encoder.encodeWithLengths(concat(missing.map { inputs.sliced(axis: 0, $0..<($0 + 1)) }, axis: 0))
        var rows: [Tensor] = [], lengths: [Int?] = []
        var next = 0
        for entry in held {
            if let entry {
                rows.append(entry.features)
                lengths.append(entry.length)
            } else {
                rows.append(encoded!.features.sliced(axis: 0, next..<(next + 1)))
                lengths.append(encoded!.lengths?[next])
                next += 1
            }
        }
        let reported = lengths.contains { $0 != nil } ? zip(lengths, rows).map { $0 ?? $1.shape[1] } : nil
        return (concat(rows, axis: 0), reported)
    }
}
