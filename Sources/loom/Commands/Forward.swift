import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomModels
import LoomTensor

/// One forward pass of a Hugging Face folder on inputs from a safetensors file, for comparing against
/// reference implementations.
struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one forward pass of a Hugging Face model folder.",
        discussion: """
        Dispatches on config.json's model_type:
          llama | qwen2 | mistral      input_ids (int [B,T])            → logits [B,T,V]
          clip_vision_model | clip     pixel_values [B,3,H,W]           → last_hidden_state, pooler_output, hidden_states [L+1,B,N,D]
          whisper                      input_features [B,n_mels,frames] → last_hidden_state
          llava                        input_ids + pixel_values         → logits
        Outputs are written as F32.
        """)

    @Option(help: "Hugging Face model folder (config.json + model.safetensors or a sharded index).") var model: String
    @Option(help: "safetensors file with the inputs.") var inputs: String
    @Option(help: "safetensors file to write the outputs to.") var output: String
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let folder = try PretrainedFolder(model)
        let source = try SafetensorsFile(path: inputs)
        func input(_ name: String) throws -> Tensor {
            guard source.contains(name) else { throw ValidationError("\(inputs) has no tensor \"\(name)\" (it has: \(source.names.joined(separator: ", ")))") }
            return try source.tensor(name)
        }
        func ids(_ name: String) throws -> IntTensor {
            guard source.contains(name) else { throw ValidationError("\(inputs) has no tensor \"\(name)\" (it has: \(source.names.joined(separator: ", ")))") }
            return try source.intTensor(name)
        }
        let outputs = try withoutGradients { try ForwardDispatch.run(folder: folder, input: input, ids: ids) }
        try SafetensorsWriter.write(outputs.map { SafetensorsWriter.Entry($0.0, $0.1) }, to: output)
        for (name, tensor) in outputs { print("\(name) \(describe(tensor.shape))") }
    }
}

/// The forward pass per model type, shared by `loom forward` and tests.
enum ForwardDispatch {
    static func run(folder: PretrainedFolder, input: (String) throws -> Tensor,
                    ids: (String) throws -> IntTensor) throws -> [(String, Tensor)] {
        let type = try folder.modelType()
        switch type {
        case "llama", "qwen2", "mistral":
            let lm = try LlamaForCausalLM.load(directory: folder.directory.path)
            let inputIds = try ids("input_ids")
            guard inputIds.shape.count == 2 else { throw ValidationError("input_ids must be [batch, length], got \(describe(inputIds.shape))") }
            return [("logits", lm.logits(embeddings: try lm.embed(inputIds)))]
        default:
            throw ValidationError("model_type \"\(type)\" in \(folder.configURL.path) is not supported by loom forward (supported: llama, qwen2, mistral, clip_vision_model, clip, whisper, llava)")
        }
    }
}
