import Foundation
import LoomCheckpoint
import LoomNN
import LoomTensor

// CLIP vision tower, as transformers' modeling_clip.py (SPECS §3.3). Letters: B batch, C channels,
// S image side, P patch side, N = (S/P)² patches, T = N + 1 tokens (class token first), D hidden,
// H heads, E head dim, F intermediate size, L layers.

/// A pixel batch the tower cannot take.
public struct CLIPVisionInputError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class CLIPVisionEmbeddings: Module {
    @Parameter public var classEmbedding: Tensor
    /// Conv2d(C → D, kernel = stride = P, no bias), applied as a patch sequence.
    @Child public var patchEmbedding: PatchConv2d
    /// One row per position: the class token, then the patches in row-major grid order.
    @Child public var positionEmbedding: Embedding
    let config: CLIPVisionConfig

    init(_ config: CLIPVisionConfig) {
        self.config = config
        classEmbedding = Tensor(zeros: [config.hiddenSize])
        patchEmbedding = PatchConv2d(config.numChannels, config.hiddenSize, patchSize: config.patchSize, bias: false)
        positionEmbedding = Embedding(config.numPositions, config.hiddenSize)
    }

    /// [B, C, S, S] → [B, T, D]
    func callAsFunction(_ pixelValues: Tensor) throws -> Tensor {
        guard pixelValues.rank == 4, pixelValues.shape[1] == config.numChannels else {
            throw CLIPVisionInputError("pixel_values \(describe(pixelValues.shape)) should be [batch, \(config.numChannels), \(config.imageSize), \(config.imageSize)]")
        }
        let (b, h, w) = (pixelValues.shape[0], pixelValues.shape[2], pixelValues.shape[3])
        guard h == config.imageSize && w == config.imageSize else {  // no interpolate_pos_encoding
            throw CLIPVisionInputError("input image size (\(h)*\(w)) doesn't match the model (\(config.imageSize)*\(config.imageSize))")
        }
        let d = config.hiddenSize
        let patches = patchEmbedding(pixelValues)                                        // [B, N, D]
        let cls = classEmbedding.reshaped([1, 1, d])                                      // [1, 1, D]
        let classTokens = concat(Array(repeating: cls, count: b), axis: 0)                // [B, 1, D]
        let tokens = concat([classTokens, patches], axis: 1)                              // [B, T, D]
        return tokens + positionEmbedding.weight                                          // [B, T, D] + [T, D]
    }
}

public final class CLIPAttention: Module {
    @Child public var qProj: Linear
    @Child public var kProj: Linear
    @Child public var vProj: Linear
    @Child public var outProj: Linear
    let heads: Int, headDim: Int, scale: Float

    init(_ config: CLIPVisionConfig) {
        heads = config.numAttentionHeads
        headDim = config.headDim
        scale = 1 / Float(headDim).squareRoot()
        let d = config.hiddenSize
        qProj = Linear(d, d)
        kProj = Linear(d, d)
        vProj = Linear(d, d)
        outProj = Linear(d, d)
    }

    /// [B, T, D] → [B, T, D]; every token sees every token (no mask in the vision tower).
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let q = qProj(x).reshaped([b, t, heads, headDim])                               // [B, T, H, E]
        let k = kProj(x).reshaped([b, t, heads, headDim])                               // [B, T, H, E]
        let v = vProj(x).reshaped([b, t, heads, headDim])                               // [B, T, H, E]
        // transformers ≥ 4.48 scales the scores (q·kᵀ)·E^−½, as the kernel's GEMM alpha does.
        let out = scaledDotProductAttention(query: q.transposed(1, 2), key: k.transposed(1, 2),
                                            value: v.transposed(1, 2), scale: scale)   // [B, H, T, E], stored [B, T, H, E]
        return outProj(out.transposed(1, 2).reshaped([b, t, heads * headDim]))          // [B, T, D]
    }
}

public final class CLIPMLP: Module {
    @Child public var fc1: Linear
    @Child public var fc2: Linear
    let activation: Activation

    init(_ config: CLIPVisionConfig) {
        fc1 = Linear(config.hiddenSize, config.intermediateSize)
        fc2 = Linear(config.intermediateSize, config.hiddenSize)
        activation = config.hiddenAct
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        fc2(activation(fc1(x)))                                                          // [B, T, F] → [B, T, D]
    }
}

public final class CLIPEncoderLayer: Module {
    @Child public var selfAttn: CLIPAttention
    @Child public var layerNorm1: LayerNorm
    @Child public var mlp: CLIPMLP
    @Child public var layerNorm2: LayerNorm

    init(_ config: CLIPVisionConfig) {
        selfAttn = CLIPAttention(config)
        layerNorm1 = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
        mlp = CLIPMLP(config)
        layerNorm2 = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
    }

    /// Pre-norm residual block: [B, T, D] → [B, T, D].
    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + selfAttn(layerNorm1(x))
        return h + mlp(layerNorm2(h))
    }
}

public final class CLIPEncoder: Module {
    @Child public var layers: [CLIPEncoderLayer]

    init(_ config: CLIPVisionConfig) {
        layers = (0..<config.numHiddenLayers).map { _ in CLIPEncoderLayer(config) }
    }

    /// Runs the first `layerCount` layers on [B, T, D]. Returns the last output and, when
    /// `collectingHiddenStates`, every layer's input and the final output (layerCount + 1 tensors).
    func callAsFunction(_ x: Tensor, layerCount: Int, collectingHiddenStates: Bool) -> (last: Tensor, all: [Tensor]) {
        var h = x
        var all = collectingHiddenStates ? [h] : []
        for layer in layers.prefix(layerCount) {
            h = layer(h)
            if collectingHiddenStates { all.append(h) }
        }
        return (h, all)
    }
}

/// What the tower returns (transformers' BaseModelOutputWithPooling).
public struct CLIPVisionOutput {
    /// Output of the last layer that ran [B, T, D], without post_layernorm.
    public var lastHiddenState: Tensor
    /// post_layernorm(lastHiddenState[:, 0]) [B, D]; nil when the encoder stopped before its last layer.
    public var poolerOutput: Tensor?
    /// When requested: [0] the embeddings after pre_layrnorm, [k] the output of layer k − 1; one more
    /// than the layers run (L + 1 for a full pass, as transformers' `hidden_states`). Empty otherwise.
    public var hiddenStates: [Tensor]
}

/// The tower without the `vision_model.` prefix (embeddings, pre_layrnorm, encoder, post_layernorm).
public final class CLIPVisionTransformer: Module {
    @Child public var embeddings: CLIPVisionEmbeddings
    /// Spelled as in the checkpoints.
    @Child public var preLayrnorm: LayerNorm
    @Child public var encoder: CLIPEncoder
    @Child public var postLayernorm: LayerNorm
    public let config: CLIPVisionConfig

    public init(_ config: CLIPVisionConfig) {
        self.config = config
        embeddings = CLIPVisionEmbeddings(config)
        preLayrnorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
        encoder = CLIPEncoder(config)
        postLayernorm = LayerNorm(config.hiddenSize, eps: config.layerNormEps)
    }

    /// pixel_values [B, C, S, S] → last hidden state [B, T, D], pooled [B, D], hidden states.
    /// `layerCount` (default: all L) stops the encoder early; the pooler then is not computed.
    public func callAsFunction(_ pixelValues: Tensor, outputHiddenStates: Bool = false,
                               layerCount: Int? = nil) throws -> CLIPVisionOutput {
        let total = config.numHiddenLayers
        let count = layerCount ?? total
        guard (0...total).contains(count) else {
            throw CLIPVisionInputError("layerCount \(count) is outside 0…\(total) (the tower has \(total) layers)")
        }
        let h = preLayrnorm(try embeddings(pixelValues))                                 // [B, T, D]
        let (last, all) = encoder(h, layerCount: count, collectingHiddenStates: outputHiddenStates)
        var pooled: Tensor?
        if count == total {
            let (b, d) = (last.shape[0], last.shape[2])
            pooled = postLayernorm(last.sliced(axis: 1, 0..<1).reshaped([b, d]))        // [B, D]
        }
        return CLIPVisionOutput(lastHiddenState: last, poolerOutput: pooled, hiddenStates: all)
    }

    /// `hidden_states[index]` of a full pass (Python indexing: −1 is the last, −2 LLaVA's choice),
    /// running only the layers it needs. [B, C, S, S] → [B, T, D].
    public func hiddenState(_ pixelValues: Tensor, at index: Int) throws -> Tensor {
        let states = config.numHiddenLayers + 1
        let resolved = index < 0 ? states + index : index
        guard (0..<states).contains(resolved) else {
            throw CLIPVisionInputError("hidden state index \(index) is outside −\(states)…\(states - 1) (\(states) hidden states for \(states - 1) layers)")
        }
        return try self(pixelValues, layerCount: resolved).lastHiddenState
    }
}

/// transformers' CLIPVisionModel: the tower stored under `vision_model.*`.
public final class CLIPVisionModel: Module {
    @Child public var visionModel: CLIPVisionTransformer

    public init(_ config: CLIPVisionConfig) {
        visionModel = CLIPVisionTransformer(config)
    }

    public var config: CLIPVisionConfig { visionModel.config }

    /// See `CLIPVisionTransformer.callAsFunction`.
    public func callAsFunction(_ pixelValues: Tensor, outputHiddenStates: Bool = false,
                               layerCount: Int? = nil) throws -> CLIPVisionOutput {
        try visionModel(pixelValues, outputHiddenStates: outputHiddenStates, layerCount: layerCount)
    }

    /// See `CLIPVisionTransformer.hiddenState(_:at:)`.
    public func hiddenState(_ pixelValues: Tensor, at index: Int) throws -> Tensor {
        try visionModel.hiddenState(pixelValues, at: index)
    }
}

extension CLIPVisionModel {
    /// How a checkpoint stores the tower, told apart by its keys.
    public enum KeyLayout: String, Sendable {
        /// `vision_model.*`: CLIPVisionModel as transformers v4 and Hub checkpoints store it, and a
        /// full CLIPModel, whose text tower, projections and logit scale are ignored.
        case visionModelPrefix
        /// `embeddings.*`, `pre_layrnorm.*`, `encoder.*`, `post_layernorm.*`: CLIPVisionModel as
        /// transformers v5 saves it.
        case unprefixed

        /// Anchored renames onto this module's keys, and the stored keys left unused by name (the
        /// `position_ids` buffer older checkpoints saved among them).
        public var keyMapping: KeyMapping {
            switch self {
            case .visionModelPrefix:
                return KeyMapping(ignored: [
                    .prefix("text_model."), .exact("text_projection.weight"), .exact("visual_projection.weight"),
                    .exact("logit_scale"), .exact("vision_model.embeddings.position_ids"),
                ])
            case .unprefixed:
                let parts = ["embeddings.", "pre_layrnorm.", "encoder.", "post_layernorm."]
                return KeyMapping(renames: parts.map { ($0, "vision_model." + $0) },
                                  ignored: [.exact("embeddings.position_ids")])
            }
        }

        /// The layout of a checkpoint with these stored keys.
        public init(storedKeys: [String], source: String) throws {
            if storedKeys.contains(where: { $0.hasPrefix("vision_model.") }) {
                self = .visionModelPrefix
            } else if storedKeys.contains(where: { $0.hasPrefix("embeddings.") || $0.hasPrefix("encoder.") }) {
                self = .unprefixed
            } else {
                throw CheckpointError("\(source): no CLIP vision weights: expected keys under vision_model. (CLIPVisionModel, CLIPModel) or embeddings. and encoder. (CLIPVisionModel saved by transformers v5)")
            }
        }
    }

    /// Loads a `clip_vision_model` or `clip` folder (config.json plus model.safetensors or shards),
    /// either layout, strictly: every tower weight with its shape, the rest ignored by name only.
    public static func load(directory: String) throws -> CLIPVisionModel {
        let folder = try PretrainedFolder(directory)
        let model = CLIPVisionModel(try CLIPVisionConfig.decode(from: folder.configURL))
        let weights = try folder.weights()
        let layout = try KeyLayout(storedKeys: weights.names, source: directory)
        try model.load(from: weights, mapping: layout.keyMapping, description: directory)
        return model
    }
}
