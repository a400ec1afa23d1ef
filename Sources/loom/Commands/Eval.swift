import ArgumentParser
import Foundation
import LoomTraining

/// `loom eval RUN_DIR|RECIPE`: eval loss and task metrics on held-out data.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a run (or a recipe's untrained starting point) on its eval data.",
        discussion: """
        Reports eval loss, and from generated answers: exact-match accuracy for short answers (≤ 3 words),
        BLEU-4 for captions (plain template), word error rate for transcripts (plain template, audio).
        """)

    @Argument(help: "A run folder written by loom train, or a recipe YAML (evaluates the untrained model).") var target: String
    @Option(help: "Stage whose template and eval data to use (default: the last finished stage, or the last stage).") var stage: String?
    @Option(help: "Evaluate at most this many samples with generation.") var maxSamples: Int?
    @Option(help: "Tokens generated per answer.") var maxNewTokens = 32
    @Option(help: "Evaluate this LLaVA JSON/JSONL file instead of the stage's data.eval (repeatable).") var data: [String] = []
    @Option(help: "Write the report, with every generated reply and its reference, as JSON here.") var output: String?
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let isRecipe = target.hasSuffix(".yaml") || target.hasSuffix(".yml")
        let training: TrainingRun
        var finished: StageRecipe?
        if isRecipe {  // the untrained starting point
            training = try TrainingRun(recipe: try Recipe.load(target), directory: FileManager.default.temporaryDirectory.appendingPathComponent("loom-eval"))
            training.log = { _ in }
        } else {
            (training, finished) = try TrainingRun.openFinished(URL(fileURLWithPath: target), upTo: stage)
        }
        let recipe = training.recipe
        let name = stage ?? finished?.name ?? recipe.stages.last!.name
        guard var chosen = recipe.stages.first(where: { $0.name == name }) else {
            throw ValidationError("no stage \(name) in \(recipe.source)")
        }
        if !data.isEmpty {
            var files = chosen.data ?? DataRecipe()
            files.eval = data.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            chosen.data = files
        }
        let report = try Evaluation.run(training, stage: chosen, maxSamples: maxSamples, maxNewTokens: maxNewTokens)
        for example in report.examples.prefix(5) { print("  \(example.id): \"\(example.prediction)\" (reference \"\(example.reference)\")") }
        print(report.summary)
        if let output {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: output))
        }
    }
}
