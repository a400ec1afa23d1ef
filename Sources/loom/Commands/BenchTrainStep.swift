import ArgumentParser
import Foundation
import LoomAdapters
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor
import LoomTraining

/// One training step of a randomly initialised LLaVA model, timed. bench/pytorch_train_step.py runs
/// the identical step in PyTorch + transformers; BENCHMARKS.md keeps both side by side.
struct BenchTrainStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step",
        abstract: "Time stage-1 / stage-2 training steps of a LLaVA model built from a LlavaConfig JSON.",
        discussion: """
        input_ids: BOS, then the image placeholder at positions 1…n_img, then random text tokens; loss on
        the text tokens; AdamW. Stage 1 trains the projector; stage 2 the projector and the LM (or LoRA
        with --lora-rank). Prints per-step times and a last line of JSON.
        """)

    @Option(help: "LlavaConfig JSON (as LlavaConfig.save_pretrained writes it), e.g. bench/llava_reference_config.json.") var config: String
    @Option(help: "Samples per step.") var batch = 4
    @Option(help: "Text tokens per sample after the image tokens.") var textTokens = 60
    @Option(help: "1: projector only; 2: projector + language model.") var stage = 1
    @Option(help: "Timed steps (after one warm-up step).") var steps = 5
    @Option(help: "Stage 2 with LoRA of this rank on q/k/v/o/gate/up/down instead of full fine-tuning.") var loraRank: Int?
    @Flag(help: "Recompute each decoder layer in backward instead of keeping its activations.") var gradientCheckpointing = false
    @Flag(inversion: .prefixedNo, help: "Split the batch by samples across the cores, one shard per core (as training does; the `sample_parallel` stage option).") var sampleParallel = true
    @Flag(name: .customLong("frozen-bf16"), help: "Keep the frozen weight matrices in bfloat16, widened to Float32 on use.") var frozenBFloat16 = false
    @Flag(help: "After the timed steps, print where their time went, op by op (forward and backward, summed over threads).") var profile = false
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard [1, 2].contains(stage) else { throw ValidationError("--stage must be 1 or 2") }
        guard batch > 0, textTokens > 0, steps > 0 else { throw ValidationError("--batch, --text-tokens and --steps must be positive") }
        if loraRank != nil && stage != 2 { throw ValidationError("--lora-rank applies to stage 2") }
    }

    func run() throws {
        try runtime.apply()
        let llavaConfig = try ConfigFile.decode(LlavaConfig.self, from: URL(fileURLWithPath: config))
        let model = try LlavaForConditionalGeneration(llavaConfig)
        var rng = RandomGenerator(seed: 0)
        model.initializeParameters(std: 0.02, generator: &rng)
        model.freeze()
        model.model.languageModel.gradientCheckpointing = gradientCheckpointing
        var trainable = model.model.multiModalProjector.parameters
        if stage == 2 {
            if let rank = loraRank {
                try LoRA.apply(to: model.model.languageModel, config: LoRAConfig(r: rank, loraAlpha: Double(2 * rank)), generator: &rng)
                trainable += LoRA.adaptedLayers(of: model.model.languageModel).flatMap { [$0.linear.loraA!.weight, $0.linear.loraB!.weight] }
            } else {
                trainable += model.model.languageModel.parameters + (model.lmHead?.parameters ?? [])
            }
        }
        for p in trainable { p.requiresGradient = true }
        if frozenBFloat16 { print(model.keepFrozenWeightsInBFloat16()) }
        let optimizer = AdamW([ParameterGroup(parameters: trainable, learningRate: 1e-4)])

        let imageTokens = llavaConfig.imageTokenCount
        let length = 1 + imageTokens + textTokens
        let vocab = llavaConfig.textConfig.vocabSize
        var ids: [Int] = [], labels: [Int] = []
        for _ in 0..<batch {
            let text = (0..<textTokens).map { _ in 3 + rng.int(below: vocab - 4) }
            ids += [1] + [Int](repeating: llavaConfig.imageTokenId, count: imageTokens) + text
            labels += [Int](repeating: -100, count: 1 + imageTokens) + text
        }
        let size = llavaConfig.visionConfig.imageSize
        let pixels = Tensor.randomNormal([batch, 3, size, size], generator: &rng)

        // Shards of whole samples, each summing its loss and dividing by the batch's supervised tokens,
        // so that the shards' gradients add up to the batch's mean-loss gradient.
        let shardCount = sampleParallel ? SampleParallel.shardCount(samples: batch) : 1
        let shards = (0..<shardCount).map { s -> (ids: IntTensor, pixels: Tensor, labels: IntTensor) in
            let rows = (s * batch / shardCount)..<((s + 1) * batch / shardCount)
            let tokens = (rows.lowerBound * length)..<(rows.upperBound * length)
            return (IntTensor(shape: [rows.count, length], scalars: Array(ids[tokens])), pixels.sliced(axis: 0, rows).contiguous(),
                    IntTensor(shape: [rows.count, length], scalars: Array(labels[tokens])))
        }
        let supervised = Float(batch * textTokens)

        func step() throws -> (Double, Float) {
            let start = DispatchTime.now().uptimeNanoseconds
            optimizer.zeroGradients()
            let losses = try SampleParallel.map(shardCount) { s in
                OpProfile.mark()
                let loss = try model.loss(inputIds: shards[s].ids, pixelValues: shards[s].pixels, labels: shards[s].labels, reduction: .sum)
                (loss * (1 / supervised)).backward()
                return loss.item
            }
            optimizer.step()
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, losses.reduce(0, +) / supervised)
        }
        let setupPeak = peakResidentMegabytes()
        resetPeakResident()  // from here VmHWM is the peak of the steps alone (weights included)
        _ = try step()  // warm-up
        var times: [Double] = []
        OpProfile.isEnabled = profile
        for i in 0..<steps {
            let (seconds, loss) = try step()
            times.append(seconds)
            print(String(format: "step %d: %.3f s, loss %.4f", i + 1, seconds, loss))
        }
        let median = times.sorted()[times.count / 2]
        if profile { printProfile(steps: steps, stepSeconds: times.reduce(0, +) / Double(steps), recordingThreads: shardCount) }
        let result: [String: Any] = [
            "stage": loraRank.map { "2-lora-r\($0)" } ?? String(stage), "median_step_s": (median * 1e4).rounded() / 1e4,
            "tokens_per_s": (Double(batch * length) / median).rounded(),
            "peak_rss_mb": max(setupPeak, peakResidentMegabytes()), "step_peak_rss_mb": peakResidentMegabytes(),
            "trainable_parameters": trainable.reduce(0) { $0 + $1.count }, "threads": Threads.count,
            "gradient_checkpointing": gradientCheckpointing, "frozen_bf16": frozenBFloat16, "shards": shardCount,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }

    /// The op table: seconds per step summed over the threads that record ops (one per shard; a
    /// kernel's own worker threads count inside its op), and their share of those threads' time.
    func printProfile(steps: Int, stepSeconds: Double, recordingThreads: Int) {
        OpProfile.isEnabled = false
        let entries = OpProfile.entries
        let threadSeconds = stepSeconds * Double(recordingThreads)
        let accounted = entries.reduce(0) { $0 + $1.entry.seconds } / Double(steps)
        func padded(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        print(padded("op", 34) + "  ms/step  calls/step   share")
        for (name, entry) in entries {
            let perStep = entry.seconds / Double(steps)
            print(padded(name, 34) + String(format: " %8.2f %11d %6.1f%%", perStep * 1e3, entry.calls / steps, 100 * perStep / threadSeconds))
        }
        let outside = threadSeconds - accounted
        print(padded("(outside ops: optimizer, waits)", 34) + String(format: " %8.2f", outside * 1e3) + String(repeating: " ", count: 12)
              + String(format: " %6.1f%%", 100 * outside / threadSeconds))
    }

    /// Restarts VmHWM at the current resident size (Linux `clear_refs` 5).
    func resetPeakResident() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// VmHWM from /proc/self/status.
    func peakResidentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first(where: { Int($0) != nil }) ?? "") else { return 0 }
        return kb / 1024
    }
}
