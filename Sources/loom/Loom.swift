import ArgumentParser
import LoomTensor

@main
struct Loom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loom",
        abstract: "LLaVA-style multimodal adapter tuning on the CPU.",
        subcommands: [Train.self, Eval.self, Chat.self, Export.self, Forward.self, Features.self, Tokenize.self, TrainTokenizer.self, MakeDemoData.self, Bench.self, Info.self])
}

/// Options every command that computes takes.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads for Loom's kernels and OpenBLAS (default: LOOM_NUM_THREADS or all cores).")
    var threads: Int?

    func apply() throws {
        try BLAS.checkAvailable()
        if let threads {
            guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
            Threads.setCount(threads)
        }
    }
}
