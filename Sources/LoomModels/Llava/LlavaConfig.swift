import LoomCheckpoint
import LoomTensor

/// config.json of `llava` (LlavaConfig): a CLIP vision config, a LLaMA-family text config and the
/// projector between them.
public struct LlavaConfig: Decodable, Sendable {
    public var visionConfig: CLIPVisionConfig
    public var textConfig: LlamaConfig
    /// The placeholder id whose positions receive image features (`image_token_index`, v5 `image_token_id`).
    public var imageTokenId: Int
    public var projectorHiddenAct: Activation
    public var projectorBias: Bool
    /// Which `hidden_states` of the vision tower feed the projector (Python indexing; a list is
    /// concatenated along features).
    public var visionFeatureLayers: [Int]
    /// "default" drops the CLS token, "full" keeps it.
    public var visionFeatureSelectStrategy: String
    public var tieWordEmbeddings: Bool

    enum CodingKeys: String, CodingKey {
        case visionConfig = "vision_config", textConfig = "text_config", imageTokenIndex = "image_token_index"
        case imageTokenId = "image_token_id", projectorHiddenAct = "projector_hidden_act"
        case projectorBias = "multimodal_projector_bias", visionFeatureLayer = "vision_feature_layer"
        case visionFeatureSelectStrategy = "vision_feature_select_strategy", tieWordEmbeddings = "tie_word_embeddings"
        case modelType = "model_type"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.value(.modelType, default: "llava")
        guard modelType == "llava" else { throw ConfigError("model_type \"\(modelType)\" is not llava") }
        visionConfig = try c.decode(CLIPVisionConfig.self, forKey: .visionConfig)
        var text = try c.decode(LlamaConfig.self, forKey: .textConfig)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? text.tieWordEmbeddings
        text.tieWordEmbeddings = tieWordEmbeddings
        textConfig = text
        imageTokenId = try c.decodeIfPresent(Int.self, forKey: .imageTokenId) ?? c.value(.imageTokenIndex, default: 32000)
        projectorHiddenAct = try c.value(.projectorHiddenAct, default: .gelu)
        projectorBias = try c.value(.projectorBias, default: true)
        if let list = try? c.decodeIfPresent([Int].self, forKey: .visionFeatureLayer) {
            visionFeatureLayers = list
        } else {
            visionFeatureLayers = [try c.value(.visionFeatureLayer, default: -2)]
        }
        visionFeatureSelectStrategy = try c.value(.visionFeatureSelectStrategy, default: "default")
        guard ["default", "full"].contains(visionFeatureSelectStrategy) else {
            throw ConfigError("vision_feature_select_strategy \"\(visionFeatureSelectStrategy)\" is not one of default, full")
        }
        let states = visionConfig.numHiddenLayers + 1
        for layer in visionFeatureLayers where !(-states..<states).contains(layer) {
            throw ConfigError("vision_feature_layer \(layer) is outside −\(states)…\(states - 1) for a \(visionConfig.numHiddenLayers)-layer vision tower")
        }
    }

    /// Image tokens per image: patches, plus CLS with the "full" strategy.
    public var imageTokenCount: Int {
        let side = visionConfig.imageSize / visionConfig.patchSize
        return side * side + (visionFeatureSelectStrategy == "full" ? 1 : 0)
    }
}
