import LoomCheckpoint
import LoomTensor

/// config.json of `llama`, `qwen2` and `mistral` language models (LlamaConfig / Qwen2Config /
/// MistralConfig). Absent keys take the transformers class defaults of the model type.
public struct LlamaConfig: Decodable, Sendable {
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Default: num_attention_heads (plain multi-head attention).
    public var numKeyValueHeads: Int
    /// Default: hidden_size / num_attention_heads.
    public var headDim: Int
    public var hiddenAct: Activation
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Float
    public var rope: RopeParameters
    public var tieWordEmbeddings: Bool
    /// Biases on q/k/v projections: `attention_bias` for llama/mistral, always true for qwen2.
    public var qkvBias: Bool
    /// Bias on o_proj: `attention_bias` for llama/mistral, never for qwen2.
    public var outputBias: Bool
    public var mlpBias: Bool
    /// Mistral's sliding window (nil: full causal attention).
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    public var padTokenId: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim", hiddenAct = "hidden_act", maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters", tieWordEmbeddings = "tie_word_embeddings"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", slidingWindow = "sliding_window"
        case useSlidingWindow = "use_sliding_window"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
    }

    public static let supportedModelTypes = ["llama", "qwen2", "mistral"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.value(.modelType, default: "llama")
        guard LlamaConfig.supportedModelTypes.contains(modelType) else {
            throw ConfigError("model_type \"\(modelType)\" is not a LLaMA-family language model (supported: \(LlamaConfig.supportedModelTypes.joined(separator: ", ")))")
        }
        let isQwen = modelType == "qwen2", isMistral = modelType == "mistral"
        vocabSize = try c.value(.vocabSize, default: isQwen ? 151936 : 32000)
        hiddenSize = try c.value(.hiddenSize, default: 4096)
        intermediateSize = try c.value(.intermediateSize, default: isQwen ? 22016 : (isMistral ? 14336 : 11008))
        numHiddenLayers = try c.value(.numHiddenLayers, default: 32)
        numAttentionHeads = try c.value(.numAttentionHeads, default: 32)
        numKeyValueHeads = try c.value(.numKeyValueHeads, default: isMistral ? 8 : numAttentionHeads)
        headDim = try c.value(.headDim, default: hiddenSize / max(numAttentionHeads, 1))
        hiddenAct = try c.value(.hiddenAct, default: .silu)
        maxPositionEmbeddings = try c.value(.maxPositionEmbeddings, default: isQwen ? 32768 : (isMistral ? 4096 * 32 : 2048))
        rmsNormEps = try c.value(.rmsNormEps, default: isMistral ? 1e-6 : 1e-6)
        // transformers v5 writes rope_parameters (with rope_theta inside); v4 writes rope_theta + rope_scaling.
        if let parameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters) {
            rope = parameters
        } else {
            rope = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling) ?? RopeParameters()
            rope.theta = try c.value(.ropeTheta, default: isMistral ? 10000 : 10000)
        }
        tieWordEmbeddings = try c.value(.tieWordEmbeddings, default: false)
        let attentionBias = try c.value(.attentionBias, default: false)
        qkvBias = isQwen ? true : attentionBias
        outputBias = isQwen ? false : attentionBias
        mlpBias = isQwen ? false : try c.value(.mlpBias, default: false)
        let useSlidingWindow = try c.value(.useSlidingWindow, default: !isQwen)
        slidingWindow = useSlidingWindow ? try c.decodeIfPresent(Int.self, forKey: .slidingWindow) : nil
        if isQwen && useSlidingWindow {
            throw ConfigError("qwen2 with use_sliding_window=true is not supported (per-layer sliding windows)")
        }
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        if let list = try? c.decodeIfPresent([Int].self, forKey: .eosTokenId) {
            eosTokenIds = list
        } else {
            eosTokenIds = (try c.decodeIfPresent(Int.self, forKey: .eosTokenId)).map { [$0] } ?? []
        }
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        try validate()
    }

    func validate() throws {
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                              ("num_attention_heads", numAttentionHeads), ("num_key_value_heads", numKeyValueHeads),
                              ("head_dim", headDim), ("intermediate_size", intermediateSize)] where value <= 0 {
            throw ConfigError("\(name) must be positive, got \(value)")
        }
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw ConfigError("num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
        guard headDim % 2 == 0 else { throw ConfigError("head_dim \(headDim) must be even for rotary embeddings") }
        _ = try rope.inverseFrequencies(headDim: headDim)
        try ModelSize.check([[vocabSize, hiddenSize, tieWordEmbeddings ? 1 : 2],
                             [numHiddenLayers, hiddenSize, headDim, 2 * (numAttentionHeads + numKeyValueHeads)],
                             [numHiddenLayers, hiddenSize, intermediateSize, 3]], model: modelType)
    }

    /// The rotary table this configuration implies.
    public func rotaryTable() throws -> RotaryTable {
        RotaryTable(headDim: headDim, inverseFrequencies: try rope.inverseFrequencies(headDim: headDim))
    }
}

/// Rotary embedding parameters: `rope_theta` plus `rope_scaling` (v4) or `rope_parameters` (v5).
public struct RopeParameters: Decodable, Sendable {
    public var theta: Float = 10000
    /// "default", "linear" or "llama3" ("dynamic" matches "default" up to max_position_embeddings).
    public var type: String = "default"
    public var factor: Float = 1
    public var lowFrequencyFactor: Float = 1
    public var highFrequencyFactor: Float = 4
    public var originalMaxPositionEmbeddings: Int = 8192

    enum CodingKeys: String, CodingKey {
        case theta = "rope_theta", type = "rope_type", legacyType = "type", factor
        case lowFrequencyFactor = "low_freq_factor", highFrequencyFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        theta = try c.value(.theta, default: 10000)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? c.decodeIfPresent(String.self, forKey: .legacyType) ?? "default"
        factor = try c.value(.factor, default: 1)
        lowFrequencyFactor = try c.value(.lowFrequencyFactor, default: 1)
        highFrequencyFactor = try c.value(.highFrequencyFactor, default: 4)
        originalMaxPositionEmbeddings = try c.value(.originalMaxPositionEmbeddings, default: 8192)
    }

    /// inv_freq as transformers' `modeling_rope_utils` computes it, in float32.
    public func inverseFrequencies(headDim: Int) throws -> [Float] {
        let base = RotaryTable.defaultInverseFrequencies(headDim: headDim, base: theta)
        switch type {
        case "default", "dynamic":
            return base
        case "linear":
            return base.map { $0 / factor }
        case "llama3":
            let old = Float(originalMaxPositionEmbeddings)
            let lowWavelength = old / lowFrequencyFactor, highWavelength = old / highFrequencyFactor
            return base.map { inv in
                let wavelength = 2 * Float.pi / inv
                if wavelength > lowWavelength { return inv / factor }
                if wavelength < highWavelength { return inv }
                let smooth = (old / wavelength - lowFrequencyFactor) / (highFrequencyFactor - lowFrequencyFactor)
                return (1 - smooth) * inv / factor + smooth * inv
            }
        default:
            throw ConfigError("rope_scaling type \"\(type)\" is not supported (supported: default, linear, dynamic, llama3)")
        }
    }
}
