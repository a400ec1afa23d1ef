import ArgumentParser
import Foundation
import LoomTraining

/// `loom export --run RUN_DIR --output HF_DIR`: the trained model in a layout transformers loads.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a trained run as a transformers LlavaForConditionalGeneration folder.",
        discussion: "Needs one image modality (CLIP tower, mlp2x_gelu connector) on a llama LM; LoRA is merged first.")

    @Option(name: .customLong("run"), help: "Run folder written by loom train.") var runDirectory: String
    @Option(help: "Folder to write (config.json, model.safetensors, tokenizer and preprocessor files).") var output: String
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let (training, stage) = try TrainingRun.openFinished(URL(fileURLWithPath: runDirectory))
        try LlavaExport.write(run: training, to: URL(fileURLWithPath: output))
        print("exported stage \(stage.name) of \(runDirectory) to \(output) (LlavaForConditionalGeneration)")
    }
}
