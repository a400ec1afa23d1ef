import Foundation
import LoomCheckpoint
import LoomTensor

/// The vision tower's configuration (transformers' CLIPVisionConfig). Decodes a `clip_vision_model`
/// config.json, a full `clip` config.json (whose `vision_config` it reads, as
/// `CLIPVisionConfig.from_pretrained` does), or a nested object such as a LLaVA config's
/// `vision_config` (decode it with `decode(nestedAt:from:)`, or as a member of your own Decodable).
/// Absent keys take the class defaults (SPECS §3.1).
public struct CLIPVisionConfig: Decodable, Sendable, Equatable {
    /// Default 768.
    public var hiddenSize: Int
    /// Default 3072.
    public var intermediateSize: Int
    /// Default 12.
    public var numHiddenLayers: Int
    /// Default 12.
    public var numAttentionHeads: Int
    /// Default 3.
    public var numChannels: Int
    /// Default 224.
    public var imageSize: Int
    /// Default 32.
    public var patchSize: Int
    /// Default quick_gelu (not transformers' usual gelu).
    public var hiddenAct: Activation
    /// Default 1e-5.
    public var layerNormEps: Float

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", visionConfig = "vision_config"
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels", imageSize = "image_size", patchSize = "patch_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    /// `clip_vision_model`, or `clip` whose `vision_config` is read. A config without model_type is
    /// read as a vision config.
    public static let supportedModelTypes = ["clip_vision_model", "clip"]

    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, numChannels: Int = 3, imageSize: Int = 224, patchSize: Int = 32,
                hiddenAct: Activation = .quickGELU, layerNormEps: Float = 1e-5) throws {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numChannels = numChannels
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        try validate()
    }

    public init(from decoder: Decoder) throws {
        var c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        if let modelType, !CLIPVisionConfig.supportedModelTypes.contains(modelType) {
            throw ConfigError("model_type \"\(modelType)\" is not a CLIP vision tower (supported: \(CLIPVisionConfig.supportedModelTypes.joined(separator: ", ")))")
        }
        // A full CLIPModel config keeps the tower under vision_config (defaults when absent).
        if modelType == "clip" {
            guard c.contains(.visionConfig), try !c.decodeNil(forKey: .visionConfig) else {
                self = try CLIPVisionConfig()
                return
            }
            c = try c.nestedContainer(keyedBy: CodingKeys.self, forKey: .visionConfig)
        }
        hiddenSize = try c.value(.hiddenSize, default: 768)
        intermediateSize = try c.value(.intermediateSize, default: 3072)
        numHiddenLayers = try c.value(.numHiddenLayers, default: 12)
        numAttentionHeads = try c.value(.numAttentionHeads, default: 12)
        numChannels = try c.value(.numChannels, default: 3)
        imageSize = try c.value(.imageSize, default: 224)
        patchSize = try c.value(.patchSize, default: 32)
        hiddenAct = try c.value(.hiddenAct, default: .quickGELU)
        layerNormEps = try c.value(.layerNormEps, default: 1e-5)
        try validate()
    }

    /// Reads `config.json` of a `clip_vision_model` or `clip` folder.
    public static func decode(from url: URL) throws -> CLIPVisionConfig {
        try ConfigFile.decode(CLIPVisionConfig.self, from: url)
    }

    /// Reads the object under top-level `key` of a JSON file (e.g. a LLaVA config's `vision_config`);
    /// defaults throughout when the key is absent or null.
    public static func decode(nestedAt key: String, from url: URL) throws -> CLIPVisionConfig {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigError("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try decode(nestedAt: key, from: data, source: url.path)
    }

    /// As `decode(nestedAt:from:)`, for JSON already in memory; `source` names it in errors.
    public static func decode(nestedAt key: String, from data: Data, source: String) throws -> CLIPVisionConfig {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigError("\(source): not a JSON object")
        }
        switch object[key] {
        case nil, is NSNull:
            return try CLIPVisionConfig()
        case let nested as [String: Any]:
            let nestedData = try JSONSerialization.data(withJSONObject: nested)
            return try ConfigFile.decode(CLIPVisionConfig.self, from: nestedData, source: "\(source) (\(key))")
        default:
            throw ConfigError("\(source): key \(key) should be an object")
        }
    }

    func validate() throws {
        for (name, value) in [("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                              ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                              ("num_channels", numChannels), ("image_size", imageSize), ("patch_size", patchSize)]
            where value <= 0 {
            throw ConfigError("\(name) must be positive, got \(value)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard patchSize <= imageSize else {
            throw ConfigError("patch_size \(patchSize) is larger than image_size \(imageSize)")
        }
        try ModelSize.check([[numHiddenLayers, hiddenSize, hiddenSize, 4], [numHiddenLayers, hiddenSize, intermediateSize, 2],
                             [numChannels, patchSize, patchSize, hiddenSize], [imageSize / patchSize, imageSize / patchSize, hiddenSize]],
                            model: "clip_vision_model")
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// Patches per side, (image_size // patch_size) as the conv produces.
    public var gridSize: Int { imageSize / patchSize }
    /// Patches per image.
    public var numPatches: Int { gridSize * gridSize }
    /// Tokens per image: the patches and the class token.
    public var numPositions: Int { numPatches + 1 }
}
