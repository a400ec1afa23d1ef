import Foundation
import LoomAudio
import LoomData
import LoomImages
import LoomModels
import LoomTensor

/// Loom's own modalities, registered like any user's:
/// - image: a CLIP vision folder; options `feature_layer` (−2), `keep_cls` (false), `pad_square` (true,
///   LLaVA-1.5's image_aspect_ratio "pad");
/// - audio: a Whisper folder; the encoder's frame count decides the feature length, or option
///   `ctc_words` (N) gives one feature per spoken word, in N slots, from the folder's CTC head
///   (`ctc_head.safetensors`, as Loom's speech pretraining publishes it); with it, `ctc_feature`
///   picks what a word's feature is: `hidden` (the encoder's frames, the default) or `posterior`
///   (the head's class probabilities).
public enum BuiltinModalities {
    public static func register() {
        ModalityRegistry.register(ModalityKind(
            name: "image", placeholder: Placeholder.image.text, optionNames: ["feature_layer", "keep_cls", "pad_square"],
            makeProcessor: { folder, options in
                let processor = try CLIPImageProcessor(preprocessorConfig: URL(fileURLWithPath: folder).appendingPathComponent("preprocessor_config.json"))
                let pad = try bool(options["pad_square"], "pad_square", default: true)
                return { file in try processor.process(path: file, padToSquare: pad) }
            },
            loadEncoder: { folder, options in
                let tower = try CLIPVisionModel.load(directory: folder)
                return CLIPImageEncoder(tower: tower, layer: try int(options["feature_layer"], "feature_layer", default: -2),
                                        keepsCLS: try bool(options["keep_cls"], "keep_cls", default: false))
            }))
        ModalityRegistry.register(ModalityKind(
            name: "audio", placeholder: Placeholder.audio.text, optionNames: ["ctc_words", "ctc_feature"],
            makeProcessor: { folder, _ in
                let extractor = try WhisperFeatureExtractor(preprocessorConfig: URL(fileURLWithPath: folder).appendingPathComponent("preprocessor_config.json"))
                let config = try WhisperConfig.decode(from: URL(fileURLWithPath: folder).appendingPathComponent("config.json"))
                return { file in try extractor.features(path: file, frames: config.inputFrames) }
            },
            loadEncoder: { folder, options in
                let encoder = try WhisperEncoder.load(directory: folder)
                guard options["ctc_words"] != nil else {
                    guard options["ctc_feature"] == nil else { throw RecipeError("option ctc_feature needs ctc_words") }
                    return WhisperAudioEncoder(encoder: encoder)
                }
                let slots = try int(options["ctc_words"], "ctc_words", default: 0)
                guard slots > 0 else { throw RecipeError("option ctc_words must be positive, got \(slots)") }
                let name = options["ctc_feature"] ?? "hidden"
                guard let feature = WhisperCTCHead.WordFeature(rawValue: name) else {
                    throw RecipeError("option ctc_feature must be hidden or posterior, got \"\(name)\"")
                }
                return WhisperAudioEncoder(encoder: encoder, ctcHead: try WhisperCTCHead.load(directory: folder, dModel: encoder.config.dModel),
                                           wordSlots: slots, wordFeature: feature)
            }))
    }

    static func bool(_ text: String?, _ name: String, default fallback: Bool) throws -> Bool {
        guard let text else { return fallback }
        guard let value = Bool(text) else { throw RecipeError("option \(name) must be true or false, got \"\(text)\"") }
        return value
    }

    static func int(_ text: String?, _ name: String, default fallback: Int) throws -> Int {
        guard let text else { return fallback }
        guard let value = Int(text) else { throw RecipeError("option \(name) must be an integer, got \"\(text)\"") }
        return value
    }
}
