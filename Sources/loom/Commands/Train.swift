import ArgumentParser
import Foundation
import LoomTraining

/// `loom train RECIPE`: runs the recipe's stages (stage 1 alignment, stage 2 instruction tuning, …).
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the stages of a recipe.",
        discussion: """
        Each stage starts from the previous stage's result (RUN_DIR/<stage>/final). Checkpoints go to
        RUN_DIR/<stage>/checkpoint-N; --resume continues from the newest complete one and ends with
        the same weights as an uninterrupted run.

        Data-parallel: `mpirun -np N loom train RECIPE …` runs N ranks (Open MPI); each takes its
        batch_size slice of every global batch (batch_size × N × gradient_accumulation) and the
        trainable gradients are summed over ranks. Threads per rank default to cores / ranks per
        machine. See docs/distributed.md.
        """)

    @Argument(help: "Recipe YAML file (see recipes/ and docs/recipes.md).") var recipe: String
    @Option(help: "Run only this stage.") var stage: String?
    @Option(help: "Run folder (default: runs/<recipe name>).") var output: String?
    @Option(name: .customLong("set"), help: "Override a recipe key: key.path=value (repeatable), e.g. stages.0.steps=10.")
    var overrides: [String] = []
    @Flag(help: "Continue from the newest checkpoint in the run folder.") var resume = false
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let communicator = try Distributed.world()
        do {
            let loaded = try Recipe.load(recipe, overrides: overrides)
            let name = URL(fileURLWithPath: recipe).deletingPathExtension().lastPathComponent
            let directory = URL(fileURLWithPath: output ?? "runs/\(name)")
            let run = try TrainingRun(recipe: loaded, directory: directory, communicator: communicator)
            try run.train(onlyStage: stage, resume: resume)
        } catch where communicator.size > 1 {
            // One rank failing stops them all (no rank is left waiting in an all-reduce).
            communicator.abort("error: \(error)", code: 1)
        }
    }
}
