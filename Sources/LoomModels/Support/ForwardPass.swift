import LoomAdapters
import LoomCheckpoint
import LoomNN
import LoomTensor

/// One forward pass of a Hugging Face folder, dispatched on config.json's `model_type` (what
/// `loom forward` runs). Inputs and outputs carry transformers' names; no tape is recorded.
public enum ForwardPass {
    public static let supportedModelTypes = ["llama", "qwen2", "mistral", "clip_vision_model", "clip", "whisper", "llava"]
    /// The model types `adapter:` applies to (their language model).
    public static let adapterModelTypes = ["llama", "qwen2", "mistral", "llava"]

    /// - llama / qwen2 / mistral: `input_ids` [B, T] → `logits` [B, T, V]
    /// - clip_vision_model / clip: `pixel_values` → `last_hidden_state`, `pooler_output`, `hidden_states` [L+1, B, N, D]
    /// - whisper: `input_features` [B, n_mels, frames] → `last_hidden_state`
    /// - llava: `input_ids` + `pixel_values` → `logits`
    ///
    /// `adapter` is a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors) loaded first,
    /// onto the layers its keys name: for llama / qwen2 / mistral, and for llava, whose adapters
    /// (usually on the language model) may use any of LLaVA's key layouts; other model types throw.
    public static func run(directory: String, inputs: TensorSource, inputsDescription: String,
                           adapter: String? = nil) throws -> [(name: String, tensor: Tensor)] {
        let folder = try PretrainedFolder(directory)
        func input(_ name: String) throws -> Tensor {
            guard inputs.info(name) != nil else { throw missing(name) }
            return try inputs.tensor(name)
        }
        func ids(_ name: String) throws -> IntTensor {
            guard inputs.info(name) != nil else { throw missing(name) }
            let ids = try inputs.intTensor(name)
            guard ids.shape.count == 2 else { throw TensorError("\(inputsDescription): \(name) must be [batch, length], got \(describe(ids.shape))") }
            return ids
        }
        func missing(_ name: String) -> TensorError {
            TensorError("\(inputsDescription) has no tensor \"\(name)\" (it has: \(inputs.names.joined(separator: ", ")))")
        }
        return try withoutGradients {
            let type = try folder.modelType()
            if adapter != nil, !adapterModelTypes.contains(type) {
                throw ConfigError("\(folder.configURL.path): model_type \"\(type)\" takes no LoRA adapter in loom forward (adapters apply to: \(adapterModelTypes.joined(separator: ", ")))")
            }
            switch type {
            case "llama", "qwen2", "mistral":
                let lm = try LlamaForCausalLM.load(directory: directory)
                if let adapter { try LoRA.loadAdapter(from: adapter, into: lm, mapping: lm.keyMapping) }
                return [("logits", lm.logits(embeddings: try lm.embed(try ids("input_ids"))))]
            case "clip_vision_model", "clip":
                let tower = try CLIPVisionModel.load(directory: directory)
                let out = try tower(try input("pixel_values"), outputHiddenStates: true)
                let stacked = concat(out.hiddenStates.map { $0.unsqueezed(0) }, axis: 0)
                return [("last_hidden_state", out.lastHiddenState), ("pooler_output", out.poolerOutput!), ("hidden_states", stacked)]
            case "whisper":
                let encoder = try WhisperEncoder.load(directory: directory)
                return [("last_hidden_state", try encoder(try input("input_features")))]
            case "llava":
                let llava = try LlavaForConditionalGeneration.load(directory: directory)
                if let adapter { try LoRA.loadAdapter(from: adapter, into: llava, mapping: llava.adapterKeyMapping) }
                return [("logits", try llava.logits(inputIds: try ids("input_ids"), pixelValues: try input("pixel_values")))]
            default:
                throw ConfigError("\(folder.configURL.path): model_type \"\(type)\" is not supported (supported: \(supportedModelTypes.joined(separator: ", ")))")
            }
        }
    }
}

extension LlavaForConditionalGeneration {
    /// Where PEFT adapter keys (after `base_model.model.`) land in this module: the checkpoint layouts
    /// of `keyMapping` (transformers < 4.52 names the LM `language_model.model.*`), plus the original
    /// LLaVA repository's LlavaLlamaForCausalLM, whose LM layers are `model.layers.*`.
    public var adapterKeyMapping: KeyMapping {
        keyMapping + KeyMapping(renames: [("model.layers.", "model.language_model.layers.")])
    }
}
