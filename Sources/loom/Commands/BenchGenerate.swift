import ArgumentParser
import Foundation
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// Prefill + greedy decoding with the KV cache, timed (bench/pytorch_generate.py is the twin).
struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Time prefill + greedy generation of a randomly initialised language model (the text part of a LlavaConfig JSON).")

    @Option(help: "LlavaConfig JSON (its text_config is used), e.g. bench/llava_reference_config.json.") var config: String
    @Option(help: "Prompt tokens.") var promptTokens = 256
    @Option(help: "Tokens generated greedily.") var newTokens = 64
    @Option(help: "Timed repetitions after one warm-up.") var repeats = 3
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let llava = try ConfigFile.decode(LlavaConfig.self, from: URL(fileURLWithPath: config))
        let lm = try LlamaForCausalLM(llava.textConfig)
        var rng = RandomGenerator(seed: 0)
        lm.initializeParameters(std: 0.02, generator: &rng)
        let prompt = IntTensor(shape: [1, promptTokens], scalars: (0..<promptTokens).map { _ in 3 + rng.int(below: llava.textConfig.vocabSize - 4) })
        let options = GenerationOptions(maxNewTokens: newTokens, stopTokens: [])
        func once() throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            let tokens = try Generation.generate(lm, prompt: prompt, options: options)
            precondition(tokens[0].count == newTokens)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = try once()
        let times = try (0..<repeats).map { _ in try once() }
        let median = times.sorted()[times.count / 2]
        print(String(format: "prefill %d + %d new tokens: %.3f s (median of %d)", promptTokens, newTokens, median, repeats))
        let result: [String: Any] = ["median_s": (median * 1e4).rounded() / 1e4, "new_tokens_per_s": (Double(newTokens) / median * 10).rounded() / 10,
                                     "prompt_tokens": promptTokens, "new_tokens": newTokens, "threads": Threads.count]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
