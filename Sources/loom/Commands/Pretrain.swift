import ArgumentParser
import Foundation
import LoomTraining

/// `loom pretrain RECIPE`: trains a foundation encoder from scratch (the demo world's vision tower and
/// audio encoder; see recipes/pretrain/).
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain a vision tower or audio encoder from scratch (recipes/pretrain/).",
        discussion: """
        Writes a Hugging Face folder (config.json, model.safetensors, preprocessor_config.json) with a
        model card (README.md), the loss curve and metrics. The language model of the demo world is
        pretrained with loom train (recipes/pretrain/language_model.yaml).
        """)

    @Argument(help: "Pretraining recipe YAML (recipes/pretrain/*.yaml).") var recipe: String
    @Option(help: "Output folder for the model.") var output: String
    @Option(name: .customLong("set"), help: "Override a recipe key: key=value (repeatable), e.g. steps=100.")
    var overrides: [String] = []
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let loaded = try PretrainRecipe.load(recipe, overrides: overrides)
        try Pretrainer(recipe: loaded).run(output: URL(fileURLWithPath: output))
    }
}
