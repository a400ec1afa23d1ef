import Foundation
import LoomAdapters
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// Writes a trained run as a transformers LlavaForConditionalGeneration folder: config.json,
/// model.safetensors (LoRA merged), tokenizer files and the CLIP preprocessor_config.json.
/// Supported: one `image` modality with a CLIP tower and an `mlp2x_gelu` connector on a llama LM.
public enum LlavaExport {
    public static func write(run: TrainingRun, to directory: URL) throws {
        let model = run.model
        guard model.modalities.count == 1, let binding = model.modality("image"),
              let encoder = binding.encoder as? CLIPImageEncoder else {
            throw RecipeError("export to LLaVA needs exactly one image modality with a CLIP tower (this run has: \(model.modalities.map(\.name).joined(separator: ", ")))")
        }
        guard let projector = binding.connector as? MLPGELUConnector, projector.depth == 2 else {
            throw RecipeError("export to LLaVA needs the mlp2x_gelu connector (LlavaMultiModalProjector); this run's image connector is \(type(of: binding.connector))")
        }
        guard projector.tokensPerFeature == 1 else {
            throw RecipeError("export to LLaVA: LlavaMultiModalProjector makes one token per patch; this run's mlp2x_gelu has tokens_per_feature \(projector.tokensPerFeature)")
        }
        guard projector.inputNorm == nil else {
            throw RecipeError("export to LLaVA: LlavaMultiModalProjector has no input LayerNorm; this run's mlp2x_gelu has input_norm")
        }
        guard projector.outputNorm == nil else {
            throw RecipeError("export to LLaVA: LlavaMultiModalProjector has no output RMSNorm; this run's mlp2x_gelu has output_norm")
        }
        let lm = model.languageModel
        guard lm.config.modelType == "llama" else { throw RecipeError("export to LLaVA supports llama language models, not \(lm.config.modelType)") }
        guard let imageToken = run.tokenizer.tokenToId("<image>") else {
            throw RecipeError("the tokenizer has no <image> token: add it as a special token (as llava-hf does) before exporting")
        }
        let recipe = run.recipe
        let imageSpec = recipe.modalities["image"]!
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)

        // config.json: the two source configs nested, plus LLaVA's own keys.
        func json(_ url: URL) throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
                throw RecipeError("\(url.path) is not a JSON object")
            }
            return object
        }
        var vision = try json(URL(fileURLWithPath: imageSpec.encoder).appendingPathComponent("config.json"))
        if vision["model_type"] as? String == "clip", let nested = vision["vision_config"] as? [String: Any] { vision = nested }
        vision["model_type"] = "clip_vision_model"
        var text = try json(URL(fileURLWithPath: recipe.languageModel).appendingPathComponent("config.json"))
        text["model_type"] = "llama"
        let config: [String: Any] = [
            "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
            "vision_config": vision, "text_config": text,
            "image_token_index": imageToken, "projector_hidden_act": "gelu", "multimodal_projector_bias": true,
            "vision_feature_layer": encoder.layer, "vision_feature_select_strategy": encoder.keepsCLS ? "full" : "default",
            "image_seq_length": encoder.featureTokenCount(inputShape: []),
            "tie_word_embeddings": lm.config.tieWordEmbeddings,
        ]
        try Data((JSONText.serialize(config) + "\n").utf8).write(to: directory.appendingPathComponent("config.json"), options: .atomic)

        // Weights under transformers' LlavaForConditionalGeneration keys (the ≥ 4.52 layout).
        var entries: [SafetensorsWriter.Entry] = []
        for (key, tensor) in HuggingFaceExport.mergedWeights(of: lm) {
            if key.hasPrefix("model.") {
                entries.append(.init("model.language_model." + key.dropFirst("model.".count), tensor))
            } else {
                entries.append(.init(key, tensor))  // lm_head.weight
            }
        }
        for (key, tensor) in encoder.tower.namedParameters() {
            entries.append(.init("model.vision_tower." + key, tensor))
        }
        for (key, tensor) in projector.namedParameters() {
            entries.append(.init("model.multi_modal_projector." + projector.transformersKey(for: key), tensor))
        }
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors").path)

        for name in HuggingFaceExport.tokenizerFiles { try? HuggingFaceExport.copy(name, from: recipe.tokenizer ?? recipe.languageModel, to: directory) }
        try HuggingFaceExport.copy("preprocessor_config.json", from: imageSpec.encoder, to: directory)
    }
}
