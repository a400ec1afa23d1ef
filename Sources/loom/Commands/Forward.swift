import ArgumentParser
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
        --adapter applies a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors) to the
        language model of llama / qwen2 / mistral / llava first.
        """)

    @Option(help: "Hugging Face model folder (config.json + model.safetensors or a sharded index).") var model: String
    @Option(help: "safetensors file with the inputs.") var inputs: String
    @Option(help: "safetensors file to write the outputs to.") var output: String
    @Option(help: "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to apply first.") var adapter: String?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let outputs = try ForwardPass.run(directory: model, inputs: try SafetensorsFile(path: inputs), inputsDescription: inputs,
                                          adapter: adapter)
        try SafetensorsWriter.write(outputs.map { SafetensorsWriter.Entry($0.name, $0.tensor) }, to: output)
        for (name, tensor) in outputs { print("\(name) \(describe(tensor.shape))") }
    }
}
