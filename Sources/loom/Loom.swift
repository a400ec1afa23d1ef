import ArgumentParser
import Foundation
import LoomTensor
import LoomTraining

@main
struct Loom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loom",
        abstract: "LLaVA-style multimodal adapter tuning on the CPU.",
        subcommands: [Train.self, Pretrain.self, MakeDemoData.self, Demo.self, Eval.self, Chat.self, Export.self, Forward.self, Features.self, Tokenize.self, TrainTokenizer.self, Bench.self, Info.self])
}

/// Options every command that computes takes.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "Worker threads for Loom's kernels and OpenBLAS (default: LOOM_NUM_THREADS or all cores).")
    var threads: Int?

    func apply() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines reach a log file or a pipe as they are printed
        try BLAS.checkAvailable()
        if let threads {
            guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
            Threads.setCount(threads)
        } else if Distributed.isLaunchedByMPI, ProcessInfo.processInfo.environment["LOOM_NUM_THREADS"] == nil {
            // Ranks sharing a machine share its cores: never oversubscribe it.
            Threads.setCount(max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, Distributed.localSizeFromEnvironment)))
        }
    }
}
