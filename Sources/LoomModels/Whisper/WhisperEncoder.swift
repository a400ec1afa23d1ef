import Foundation
import LoomCheckpoint
import LoomNN
import LoomTensor

// Whisper's audio encoder, as transformers' WhisperEncoder (SPECS §4.3). Letters: B batch, M mel
// bins, F input frames (= 2P), P positions (max_source_positions), D d_model, H heads, E head dim,
// I ffn size.

/// Input features the encoder cannot take.
public struct WhisperInputError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public final class WhisperAttention: Module {
    @Child public var qProj: Linear
    /// The only projection without a bias (the keys' bias would cancel in the softmax).
    @Child public var kProj: Linear
    @Child public var vProj: Linear
    @Child public var outProj: Linear
    let heads: Int, headDim: Int, scaling: Float

    init(_ config: WhisperConfig) {
        heads = config.encoderAttentionHeads
        headDim = config.headDim
        scaling = 1 / Float(headDim).squareRoot()
        let d = config.dModel
        qProj = Linear(d, d)
        kProj = Linear(d, d, bias: false)
        vProj = Linear(d, d)
        outProj = Linear(d, d)
    }

    /// [B, P, D] → [B, P, D], no mask.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        // transformers scales q (bias included) by E^−½ before q·kᵀ and runs attention with scale 1.
        let q = (qProj(x) * scaling).reshaped([b, t, heads, headDim])                  // [B, P, H, E]
        let k = kProj(x).reshaped([b, t, heads, headDim])                               // [B, P, H, E]
        let v = vProj(x).reshaped([b, t, heads, headDim])                               // [B, P, H, E]
        let out = scaledDotProductAttention(query: q.transposed(1, 2), key: k.transposed(1, 2),
                                            value: v.transposed(1, 2), scale: 1)       // [B, H, P, E], stored [B, P, H, E]
        return outProj(out.transposed(1, 2).reshaped([b, t, heads * headDim]))          // [B, P, D]
    }
}

public final class WhisperEncoderLayer: Module {
    @Child public var selfAttn: WhisperAttention
    @Child public var selfAttnLayerNorm: LayerNorm
    @Child public var fc1: Linear
    @Child public var fc2: Linear
    @Child public var finalLayerNorm: LayerNorm
    let activation: Activation

    init(_ config: WhisperConfig) {
        selfAttn = WhisperAttention(config)
        selfAttnLayerNorm = LayerNorm(config.dModel, eps: config.layerNormEps)
        fc1 = Linear(config.dModel, config.encoderFfnDim)
        fc2 = Linear(config.encoderFfnDim, config.dModel)
        finalLayerNorm = LayerNorm(config.dModel, eps: config.layerNormEps)
        activation = config.activationFunction
    }

    /// Pre-norm residual block: [B, P, D] → [B, P, D].
    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + selfAttn(selfAttnLayerNorm(x))
        return h + fc2(activation(fc1(finalLayerNorm(h))))                              // via [B, P, I]
    }
}

/// transformers' WhisperEncoder; its keys are those under `model.encoder.` (or `encoder.`).
public final class WhisperEncoder: Module {
    @Child public var conv1: Conv1d
    @Child public var conv2: Conv1d
    /// Sinusoids [P, D] read from the checkpoint and added whole; never trained (detached in forward,
    /// as transformers freezes it).
    @Child public var embedPositions: Embedding
    @Child public var layers: [WhisperEncoderLayer]
    @Child public var layerNorm: LayerNorm
    public let config: WhisperConfig

    public init(_ config: WhisperConfig) {
        self.config = config
        conv1 = Conv1d(config.numMelBins, config.dModel, kernelSize: 3, padding: 1)
        conv2 = Conv1d(config.dModel, config.dModel, kernelSize: 3, stride: 2, padding: 1)
        embedPositions = Embedding(config.maxSourcePositions, config.dModel)
        layers = (0..<config.encoderLayers).map { _ in WhisperEncoderLayer(config) }
        layerNorm = LayerNorm(config.dModel, eps: config.layerNormEps)
    }

    /// input_features [B, M, F] (log-mel, F = 2·max_source_positions exactly) → last_hidden_state
    /// [B, P, D], after the encoder's final layer_norm.
    public func callAsFunction(_ inputFeatures: Tensor) throws -> Tensor {
        try check(inputFeatures)
        let x = gelu(conv1(inputFeatures))                                               // [B, D, F]
        let y = gelu(conv2(x))                                                           // [B, D, P]
        var h = y.transposed(1, 2) + embedPositions.weight.detached()                    // [B, P, D] + [P, D]
        for layer in layers { h = layer(h) }
        return layerNorm(h)                                                              // [B, P, D]
    }

    func check(_ features: Tensor) throws {
        let (mels, frames) = (config.numMelBins, config.inputFrames)
        guard features.rank == 3 else {
            throw WhisperInputError("input_features \(describe(features.shape)) should be [batch, \(mels), \(frames)]")
        }
        guard features.shape[2] == frames else {
            throw WhisperInputError("input_features has \(features.shape[2]) frames; the encoder expects exactly \(frames) (2 × max_source_positions \(config.maxSourcePositions)): pad or trim the log-mel to \(frames) frames")
        }
        guard features.shape[1] == mels else {
            throw WhisperInputError("input_features has \(features.shape[1]) mel bins; the encoder expects num_mel_bins = \(mels)")
        }
    }
}

extension WhisperEncoder {
    /// How a checkpoint stores the encoder, told apart by its keys.
    public enum KeyLayout: String, Sendable {
        /// WhisperForConditionalGeneration: `model.encoder.*`, plus `model.decoder.*` and `proj_out.weight`.
        case conditionalGeneration
        /// WhisperModel: `encoder.*`, plus `decoder.*`.
        case bare
        /// WhisperEncoder saved on its own (`WhisperEncoder.save_pretrained`): `conv1.*`, `layers.*`, …
        case encoderOnly

        /// Anchored renames onto the encoder's own keys; the decoder and head are ignored by name.
        public var keyMapping: KeyMapping {
            switch self {
            case .conditionalGeneration:
                return KeyMapping(renames: [("model.encoder.", "")],
                                  ignored: [.prefix("model.decoder."), .exact("proj_out.weight")])
            case .bare:
                return KeyMapping(renames: [("encoder.", "")], ignored: [.prefix("decoder.")])
            case .encoderOnly:
                return KeyMapping()
            }
        }

        /// The layout of a checkpoint with these stored keys.
        public init(storedKeys: [String], source: String) throws {
            if storedKeys.contains(where: { $0.hasPrefix("model.encoder.") }) {
                self = .conditionalGeneration
            } else if storedKeys.contains(where: { $0.hasPrefix("encoder.") }) {
                self = .bare
            } else if storedKeys.contains("conv1.weight") {
                self = .encoderOnly
            } else {
                throw CheckpointError("\(source): no Whisper encoder weights: expected keys under model.encoder. (WhisperForConditionalGeneration), encoder. (WhisperModel) or conv1.weight, layers.* (WhisperEncoder)")
            }
        }
    }

    /// Loads the encoder of a `whisper` folder (config.json plus model.safetensors or shards), either
    /// layout, strictly: every encoder weight with its shape, the decoder and head ignored by name.
    public static func load(directory: String) throws -> WhisperEncoder {
        let folder = try PretrainedFolder(directory)
        let encoder = WhisperEncoder(try WhisperConfig.decode(from: folder.configURL))
        let weights = try folder.weights()
        let layout = try KeyLayout(storedKeys: weights.names, source: directory)
        try encoder.load(from: weights, mapping: layout.keyMapping, description: directory)
        return encoder
    }
}
