import ArgumentParser
import Foundation
import LoomDemo
import LoomTensor

/// `loom demo`: the README's main job. Generates the demo world, trains both LLaVA stages on it with
/// the encoders and language model Loom pretrained (checkpoints/demo-*), scores the held-out test set
/// and writes DIR/results.json.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate the demo world, train stage 1 and stage 2, and score the held-out test set.",
        discussion: """
        Writes DIR/data (the world), DIR/run (the two stages), DIR/results.json (accuracies, chance,
        the control with connector outputs zeroed, timings) and DIR/loss_stage*.png.
        """)

    @Option(help: "Seed of the world's data and of training.") var seed: UInt64 = 0
    @Option(help: "Output folder.") var output: String = "runs/demo"
    @Option(help: "The demo recipe (default: recipes/demo.yaml of this checkout).") var recipe: String?
    @Option(help: "Held-out questions scored per test set (image QA, spoken QA).") var testQuestions: Int = 300
    @Option(name: .customLong("set"), help: "Override a recipe key: key.path=value (repeatable).") var overrides: [String] = []
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        var options = DemoRun.Options(output: URL(fileURLWithPath: output), recipe: try recipe ?? Self.defaultRecipe())
        options.seed = seed
        options.testQuestions = testQuestions
        options.overrides = overrides
        let results = try DemoRun(options: options).run()
        print("\nA few answers on held-out scenes:")
        for example in results.examples {
            let media = example.audio.map { "\(example.image) + \($0) (spoken)" } ?? example.image
            print("  \(media)\n    Q: \(example.question)\n    A: \(example.answer)    (truth: \(example.truth))")
        }
        print("\n" + results.table)
        print("\nresults: \(URL(fileURLWithPath: output).appendingPathComponent("results.json").path)")
    }

    /// recipes/demo.yaml in the working folder, else next to the checkout the binary was built in.
    static func defaultRecipe() throws -> String {
        var candidates = ["recipes/demo.yaml"]
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(folder.appendingPathComponent("recipes/demo.yaml").path)
            folder = folder.deletingLastPathComponent()
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ValidationError("cannot find recipes/demo.yaml: run loom demo from the Loom checkout or pass --recipe")
        }
        return found
    }
}
