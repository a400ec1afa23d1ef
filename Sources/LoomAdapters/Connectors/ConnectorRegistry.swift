import Foundation
import LoomNN
import LoomTensor

/// Options a recipe may give a connector; each kind reads the ones it uses and rejects the rest.
public struct ConnectorOptions: Codable, Equatable, Sendable {
    /// Hidden width of frame stacking's MLP (default: the LM width).
    public var hidden: Int?
    public var latents: Int?
    public var depth: Int?
    public var heads: Int?
    public var headDim: Int?
    public var ffMultiplier: Int?
    public var mediaEmbeddings: Int?
    /// Frames stacked together (frame_stack).
    public var stack: Int?
    /// Pooling window and stride (avg_pool).
    public var pool: Int?
    /// A LayerNorm over the features before the first Linear (mlp{N}x_gelu; InternVL's projector
    /// does this), for encoders whose chosen hidden state is unnormalised and large.
    public var inputNorm: Bool?
    /// An RMSNorm over each output token (mlp{N}x_gelu, frame_stack), its gain starting at the language model's
    /// embedding scale: the tokens keep the size of word embeddings instead of growing far past them.
    public var outputNorm: Bool?
    /// Tokens each input feature becomes (mlp{N}x_gelu): the last Linear is that many times wider and
    /// its output is split into consecutive tokens, for an LM that reads one patch as several words.
    public var tokensPerFeature: Int?

    enum CodingKeys: String, CodingKey {
        case hidden, latents, depth, heads, headDim = "head_dim", ffMultiplier = "ff_mult"
        case mediaEmbeddings = "media_embeddings", stack, pool, inputNorm = "input_norm", outputNorm = "output_norm"
        case tokensPerFeature = "tokens_per_feature"
    }

    public init() {}

    /// Every option name a recipe may write.
    public static let keyNames: Set<String> = ["hidden", "latents", "depth", "heads", "head_dim", "ff_mult", "media_embeddings", "stack", "pool",
                                               "input_norm", "output_norm", "tokens_per_feature"]

    /// The option names given (for "not used by this connector" errors).
    var given: [String] {
        let all: [(String, Int?)] = [("hidden", hidden), ("latents", latents), ("depth", depth), ("heads", heads),
                                     ("head_dim", headDim), ("ff_mult", ffMultiplier), ("media_embeddings", mediaEmbeddings),
                                     ("stack", stack), ("pool", pool), ("tokens_per_feature", tokensPerFeature)]
        return all.filter { $0.1 != nil }.map(\.0) + (inputNorm == nil ? [] : ["input_norm"]) + (outputNorm == nil ? [] : ["output_norm"])
    }
}

public struct ConnectorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Connectors by name, built-in and user-registered. A recipe's `connector: mlp2x_gelu` resolves here.
public enum ConnectorRegistry {
    public typealias Factory = (_ options: ConnectorOptions, _ inputDim: Int, _ outputDim: Int) throws -> Connector

    nonisolated(unsafe) private static var factories: [String: (allowed: Set<String>, make: Factory)] = builtIns()
    private static let lock = NSLock()

    /// Registers (or replaces) a connector kind. `allowedOptions` are the option names it reads.
    public static func register(_ name: String, allowedOptions: Set<String> = [], _ make: @escaping Factory) {
        lock.lock(); defer { lock.unlock() }
        factories[name] = (allowedOptions, make)
    }

    public static var names: [String] {
        lock.lock(); defer { lock.unlock() }
        return factories.keys.sorted() + ["mlp{N}x_gelu"]
    }

    /// Builds the connector `name` mapping `inputDim` to `outputDim`.
    public static func make(_ name: String, options: ConnectorOptions = ConnectorOptions(), inputDim: Int, outputDim: Int) throws -> Connector {
        if let depth = mlpDepth(name) {
            try check(options, allowed: ["input_norm", "output_norm", "tokens_per_feature"], for: name)
            return MLPGELUConnector(inputDim: inputDim, outputDim: outputDim, depth: depth, inputNorm: options.inputNorm ?? false,
                                    outputNorm: options.outputNorm ?? false,
                                    tokensPerFeature: try positive(options.tokensPerFeature, "tokens_per_feature", default: 1))
        }
        lock.lock()
        let entry = factories[name]
        lock.unlock()
        guard let entry else {
            throw ConnectorError("unknown connector \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
        try check(options, allowed: entry.allowed, for: name)
        return try entry.make(options, inputDim, outputDim)
    }

    /// N of "mlp{N}x_gelu", or nil.
    static func mlpDepth(_ name: String) -> Int? {
        guard name.hasPrefix("mlp"), name.hasSuffix("x_gelu") else { return nil }
        return Int(name.dropFirst(3).dropLast(6)).flatMap { $0 >= 1 ? $0 : nil }
    }

    static func check(_ options: ConnectorOptions, allowed: Set<String>, for name: String) throws {
        let extra = options.given.filter { !allowed.contains($0) }
        guard extra.isEmpty else {
            throw ConnectorError("connector \"\(name)\" does not take option(s) \(extra.sorted().joined(separator: ", "))\(allowed.isEmpty ? "" : " (it takes: \(allowed.sorted().joined(separator: ", ")))")")
        }
    }

    static func positive(_ value: Int?, _ name: String, default fallback: Int) throws -> Int {
        let v = value ?? fallback
        guard v > 0 else { throw ConnectorError("connector option \(name) must be positive, got \(v)") }
        return v
    }

    static func builtIns() -> [String: (allowed: Set<String>, make: Factory)] {
        [
            "linear": ([], { _, i, o in LinearConnector(inputDim: i, outputDim: o) }),
            "perceiver": (["latents", "depth", "heads", "head_dim", "ff_mult", "media_embeddings"], { options, i, o in
                var p = PerceiverResampler.Options()
                p.latents = try positive(options.latents, "latents", default: p.latents)
                p.depth = try positive(options.depth, "depth", default: p.depth)
                p.heads = try positive(options.heads, "heads", default: p.heads)
                p.headDim = try positive(options.headDim, "head_dim", default: p.headDim)
                p.ffMultiplier = try positive(options.ffMultiplier, "ff_mult", default: p.ffMultiplier)
                p.mediaEmbeddings = try positive(options.mediaEmbeddings, "media_embeddings", default: p.mediaEmbeddings)
                return PerceiverResampler(inputDim: i, outputDim: o, options: p)
            }),
            "frame_stack": (["stack", "hidden", "output_norm"], { options, i, o in
                FrameStackConnector(inputDim: i, outputDim: o, stack: try positive(options.stack, "stack", default: 8),
                                    hidden: try options.hidden.map { try positive($0, "hidden", default: o) },
                                    outputNorm: options.outputNorm ?? false)
            }),
            "avg_pool": (["pool"], { options, i, o in
                AveragePoolConnector(inputDim: i, outputDim: o, pool: try positive(options.pool, "pool", default: 2))
            }),
        ]
    }
}
