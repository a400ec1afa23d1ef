import Foundation
import LoomCheckpoint
import LoomTensor

/// The encoder's part of a `whisper` config.json (transformers' WhisperConfig, SPECS §4.4). Decoder
/// fields are not read. Absent keys take the class defaults (those of whisper-tiny).
public struct WhisperConfig: Decodable, Sendable, Equatable {
    /// Default 384 (alias `hidden_size`).
    public var dModel: Int
    /// Default 4 (alias `num_hidden_layers`).
    public var encoderLayers: Int
    /// Default 6 (alias `num_attention_heads`).
    public var encoderAttentionHeads: Int
    /// Default 1536.
    public var encoderFfnDim: Int
    /// Default 80 (large-v3: 128).
    public var numMelBins: Int
    /// Default 1500: encoder positions, half the input frames.
    public var maxSourcePositions: Int
    /// Default gelu (exact erf).
    public var activationFunction: Activation
    /// Not in config.json: every Whisper LayerNorm is nn.LayerNorm's default.
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case dModel = "d_model", hiddenSize = "hidden_size"
        case encoderLayers = "encoder_layers", numHiddenLayers = "num_hidden_layers"
        case encoderAttentionHeads = "encoder_attention_heads", numAttentionHeads = "num_attention_heads"
        case encoderFfnDim = "encoder_ffn_dim", numMelBins = "num_mel_bins"
        case maxSourcePositions = "max_source_positions", activationFunction = "activation_function"
    }

    public init(dModel: Int = 384, encoderLayers: Int = 4, encoderAttentionHeads: Int = 6, encoderFfnDim: Int = 1536,
                numMelBins: Int = 80, maxSourcePositions: Int = 1500, activationFunction: Activation = .gelu) throws {
        self.dModel = dModel
        self.encoderLayers = encoderLayers
        self.encoderAttentionHeads = encoderAttentionHeads
        self.encoderFfnDim = encoderFfnDim
        self.numMelBins = numMelBins
        self.maxSourcePositions = maxSourcePositions
        self.activationFunction = activationFunction
        try validate()
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        if let modelType, modelType != "whisper" {
            throw ConfigError("model_type \"\(modelType)\" is not whisper")
        }
        // transformers' attribute_map: hidden_size → d_model, num_attention_heads → encoder_attention_heads.
        dModel = try c.decodeIfPresent(Int.self, forKey: .dModel) ?? c.value(.hiddenSize, default: 384)
        encoderLayers = try c.decodeIfPresent(Int.self, forKey: .encoderLayers) ?? c.value(.numHiddenLayers, default: 4)
        encoderAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .encoderAttentionHeads)
            ?? c.value(.numAttentionHeads, default: 6)
        encoderFfnDim = try c.value(.encoderFfnDim, default: 1536)
        numMelBins = try c.value(.numMelBins, default: 80)
        maxSourcePositions = try c.value(.maxSourcePositions, default: 1500)
        activationFunction = try c.value(.activationFunction, default: .gelu)
        try validate()
    }

    /// Reads a Whisper folder's `config.json`.
    public static func decode(from url: URL) throws -> WhisperConfig {
        try ConfigFile.decode(WhisperConfig.self, from: url)
    }

    func validate() throws {
        for (name, value) in [("d_model", dModel), ("encoder_layers", encoderLayers),
                              ("encoder_attention_heads", encoderAttentionHeads), ("encoder_ffn_dim", encoderFfnDim),
                              ("num_mel_bins", numMelBins), ("max_source_positions", maxSourcePositions)]
            where value <= 0 {
            throw ConfigError("\(name) must be positive, got \(value)")
        }
        guard dModel % encoderAttentionHeads == 0 else {
            throw ConfigError("d_model \(dModel) is not a multiple of encoder_attention_heads \(encoderAttentionHeads)")
        }
        try ModelSize.check([[encoderLayers, dModel, dModel, 4], [encoderLayers, dModel, encoderFfnDim, 2],
                             [numMelBins, dModel, 3], [dModel, dModel, 3], [maxSourcePositions, dModel]], model: "whisper")
    }

    public var headDim: Int { dModel / encoderAttentionHeads }
    /// Log-mel frames the encoder takes: conv2's stride 2 halves them to max_source_positions.
    public var inputFrames: Int { 2 * maxSourcePositions }
}
