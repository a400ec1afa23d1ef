import Foundation
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// Writing models back in the layouts transformers loads.
public enum HuggingFaceExport {
    /// Files copied next to exported weights when the source folder has them.
    static let tokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                                 "generation_config.json"]

    /// A LlamaForCausalLM folder: the source config.json, model.safetensors (F32, transformers' keys,
    /// LoRA merged in), tokenizer files.
    public static func writeLanguageModel(_ model: LlamaForCausalLM, configFrom source: String, tokenizerFrom tokenizerSource: String,
                                          to directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        try copy("config.json", from: source, to: directory)
        for name in tokenizerFiles { try? copy(name, from: tokenizerSource, to: directory) }
        let entries = mergedWeights(of: model).map { SafetensorsWriter.Entry($0.key, $0.tensor) }
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors").path)
    }

    /// The module's weights with each LoRA update folded in and the LoRA pairs left out.
    static func mergedWeights(of module: Module) -> [(key: String, tensor: Tensor)] {
        var merged: [(key: String, tensor: Tensor)] = []
        let adapted = Dictionary(module.namedModules().compactMap { entry -> (String, Linear)? in
            (entry.module as? Linear).flatMap { $0.hasLoRA && !$0.isLoRAMerged ? (entry.key + ".weight", $0) : nil }
        }, uniquingKeysWith: { a, _ in a })
        for (key, tensor) in module.namedParameters() where !key.contains(".lora_") {
            if let linear = adapted[key], let delta = withoutGradients({ linear.loraDelta() }) {
                merged.append((key, withoutGradients { tensor.detached() + delta }))
            } else {
                merged.append((key, tensor))
            }
        }
        return merged
    }

    static func copy(_ name: String, from source: String, to directory: URL) throws {
        let from = URL(fileURLWithPath: source).appendingPathComponent(name)
        let to = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: from.path) else { throw CheckpointError("no \(name) in \(source)") }
        if FileManager.default.fileExists(atPath: to.path) { try FileManager.default.removeItem(at: to) }
        try FileManager.default.copyItem(at: from, to: to)
    }
}
