import Foundation
import XCTest
import LoomCheckpoint
import LoomAdapters
import LoomModels
import LoomTensor
@testable import LoomTraining

/// recipes/smoke.yaml end to end on the tiny world in Fixtures/smoke: both stages, their outputs,
/// and resuming after an interruption with bit-identical results.
final class SmokeRunTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let recipe = root.appendingPathComponent("recipes/smoke.yaml").path

    func temporaryRun() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("loom-smoke-\(UUID().uuidString)")
    }

    func losses(_ stageDirectory: URL) throws -> [Double] {
        let text = try String(contentsOf: stageDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.compactMap { $0["loss"] as? Double }
    }

    func testBothStagesTrainAndLeaveTheirResults() throws {
        let directory = temporaryRun()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try TrainingRun(recipe: try Recipe.load(Self.recipe), directory: directory)
        run.log = { _ in }
        try run.train()
        for stage in ["align", "instruct"] {
            let stageDirectory = directory.appendingPathComponent(stage)
            let curve = try losses(stageDirectory)
            XCTAssertGreaterThan(curve.count, 3, stage)
            XCTAssertLessThan(curve.suffix(3).reduce(0, +) / 3, curve.prefix(3).reduce(0, +) / 3, "\(stage): loss did not fall: \(curve)")
            let final = stageDirectory.appendingPathComponent("final")
            for file in ["trainable.safetensors", "summary.json", "loss.png", "connector_image.safetensors"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: final.appendingPathComponent(file).path), "\(stage): no \(file)")
            }
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: final.appendingPathComponent("summary.json"))) as! [String: Any]
            XCTAssertEqual(summary["frozen_unchanged"] as? Bool, true, stage)
            XCTAssertEqual(summary["frozen_checksum_before"] as? String, summary["frozen_checksum_after"] as? String)
        }
        // Stage 2 trained the language model: it is written in Hugging Face layout.
        let lm = directory.appendingPathComponent("instruct/final/language_model")
        for file in ["config.json", "model.safetensors", "tokenizer.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: lm.appendingPathComponent(file).path), "no \(file)")
        }
    }

    /// `reproducible_gradients` computes the same gradients as the batched path, to float32 summation
    /// order: sample by sample, unpadded, summed exactly. After both stages, 2 epochs each (stage 2
    /// with accumulation), the weights agree to 1e-5 of each tensor's largest entry (measured: 1.8e-6,
    /// on the biases, where AdamW's normalised step turns the batched path's float32 rounding of
    /// near-zero gradients into visible differences).
    /// Both stages of the smoke recipe with `overrides`: the final trainable weights ("stage/key") and
    /// the logged losses of both stages.
    func trainBothStages(_ overrides: [String]) throws -> (weights: [String: [Float]], losses: [Double], log: [String]) {
        let directory = temporaryRun()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: directory)
        var log: [String] = []
        run.log = { log.append($0) }
        try run.train()
        var weights: [String: [Float]] = [:], curve: [Double] = []
        for stage in ["align", "instruct"] {
            let file = try SafetensorsFile(path: directory.appendingPathComponent("\(stage)/final/trainable.safetensors").path)
            for name in file.names { weights["\(stage)/\(name)"] = try file.tensor(name).scalars }
            curve += try losses(directory.appendingPathComponent(stage))
        }
        return (weights, curve, log)
    }

    /// The frozen encoders' feature cache (on by default) trains like encoding every batch: the same
    /// losses and weights to float32 rounding (a cached image was encoded in a chunk of the sorted
    /// files, not in its batch), and every training image is read from the cache, never decoded or
    /// encoded in a step.
    func testTheFeatureCacheTrainsLikeEncodingEveryBatch() throws {
        let plain = try trainBothStages(["stages.0.epochs=2", "stages.1.epochs=2", "stages.0.feature_cache_mb=0", "stages.1.feature_cache_mb=0"])
        let cached = try trainBothStages(["stages.0.epochs=2", "stages.1.epochs=2"])
        XCTAssertFalse(plain.log.contains { $0.contains("feature cache") }, "\(plain.log)")
        let reports = cached.log.filter { $0.contains("image feature cache") }
        XCTAssertEqual(reports.count, 2, "\(cached.log)")
        for report in reports {  // "stage align: image feature cache: 24 files (0.1 MB), 48 of 52 items read from it"
            let files = Int(report.components(separatedBy: "cache: ")[1].split(separator: " ")[0])
            let counts = report.components(separatedBy: "), ")[1].split(separator: " ").compactMap { Int($0) }
            XCTAssertEqual(files, 24, report)        // the training images
            XCTAssertEqual(counts, [48, 52], report) // 2 epochs of them; the 4 evaluation images are encoded
        }
        assertTrainAlike(plain, cached)
    }

    /// The same logged losses (to 1e-4, relative above 1) and final weights (to 1e-4 of each tensor's
    /// largest entry), for runs that differ only in float32 summation order.
    func assertTrainAlike(_ a: (weights: [String: [Float]], losses: [Double], log: [String]),
                          _ b: (weights: [String: [Float]], losses: [Double], log: [String]),
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.losses.count, b.losses.count, file: file, line: line)
        for (i, (x, y)) in zip(a.losses, b.losses).enumerated() {
            XCTAssertEqual(y, x, accuracy: 1e-4 * max(1, abs(x)), "loss \(i)", file: file, line: line)
        }
        XCTAssertEqual(Set(a.weights.keys), Set(b.weights.keys), file: file, line: line)
        for (key, x) in a.weights {
            let scale = max(x.map { abs($0) }.max() ?? 0, 1e-6)
            let diff = zip(x, b.weights[key] ?? []).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-4 * scale, key, file: file, line: line)
        }
    }

    /// `sample_parallel` (on by default) splits each batch of 4 into one shard per core; it trains like
    /// running each batch whole with every op split across the cores, to float32 rounding.
    func testSamplesSplitAcrossTheCoresTrainLikeWholeBatches() throws {
        let original = Threads.count
        Threads.setCount(2)
        defer { Threads.setCount(original) }
        let whole = try trainBothStages(["stages.0.epochs=2", "stages.1.epochs=2", "stages.0.sample_parallel=false", "stages.1.sample_parallel=false"])
        let sharded = try trainBothStages(["stages.0.epochs=2", "stages.1.epochs=2"])
        XCTAssertEqual(sharded.log.filter { $0.contains("each batch split by samples across 2 cores") }.count, 2, "\(sharded.log)")
        XCTAssertFalse(whole.log.contains { $0.contains("sample_parallel") }, "\(whole.log)")
        assertTrainAlike(whole, sharded)
    }

    /// LoRA dropout in shards: each shard draws its masks from its own stream, so runs repeat bit for
    /// bit, and gradient checkpointing replays a shard's masks (the same bits as without it).
    func testLoRADropoutInShardsRepeatsAndReplaysUnderCheckpointing() throws {
        let original = Threads.count
        Threads.setCount(2)
        defer { Threads.setCount(original) }
        let runs = try [false, false, true].map { checkpointing in
            let run = try trainBothStages(["stages.0.epochs=1", "stages.1.epochs=1", "stages.1.trainable=[]",
                                           "stages.1.lora={r: 4, lora_alpha: 8, lora_dropout: 0.3}",
                                           "stages.1.gradient_checkpointing=\(checkpointing)"])
            XCTAssertEqual(run.log.filter { $0.contains("each batch split by samples across 2 cores") }.count, 2, "\(run.log)")
            return (weights: run.weights.mapValues { $0.map(\.bitPattern) }, losses: run.losses)
        }
        XCTAssertGreaterThan(runs[0].weights.count, 0)
        for run in runs.dropFirst() {
            XCTAssertEqual(run.weights, runs[0].weights)
            XCTAssertEqual(run.losses, runs[0].losses)
        }
        // The masks matter: without dropout the LoRA weights end elsewhere.
        let plain = try trainBothStages(["stages.0.epochs=1", "stages.1.epochs=1", "stages.1.trainable=[]",
                                         "stages.1.lora={r: 4, lora_alpha: 8, lora_dropout: 0}"])
        XCTAssertNotEqual(plain.weights.mapValues { $0.map(\.bitPattern) }, runs[0].weights)
    }

    func testReproducibleGradientsTrainLikeTheBatchedPath() throws {
        let results = try [false, true].map { exact in
            try trainBothStages(["stages.0.epochs=2", "stages.1.epochs=2",
                                 "stages.0.reproducible_gradients=\(exact)", "stages.1.reproducible_gradients=\(exact)"]).weights
        }
        XCTAssertEqual(Set(results[0].keys), Set(results[1].keys))
        for (key, x) in results[0] {
            let y = try XCTUnwrap(results[1][key])
            let scale = Double(x.map { abs($0) }.max() ?? 0)
            let diff = Double(zip(x, y).map { abs($0 - $1) }.max() ?? 0)
            XCTAssertLessThanOrEqual(diff, 1e-5 * max(scale, 1e-30), "\(key): the exact path differs by \(diff) (scale \(scale))")
        }
    }

    /// `gradient_checkpointing` recomputes the decoder layers in backward and changes nothing else:
    /// both stages end with the same weight bits and the same logged losses.
    func testGradientCheckpointingTrainsTheSameBits() throws {
        let results = try [false, true].map { checkpointing in
            let run = try trainBothStages(["stages.0.epochs=1", "stages.1.epochs=1",
                                           "stages.0.gradient_checkpointing=\(checkpointing)", "stages.1.gradient_checkpointing=\(checkpointing)"])
            return (weights: run.weights.mapValues { $0.map(\.bitPattern) }, losses: run.losses)
        }
        XCTAssertGreaterThan(results[0].weights.count, 0)
        XCTAssertEqual(results[0].weights, results[1].weights)
        XCTAssertEqual(results[0].losses, results[1].losses)
    }

    /// `frozen_weights_bf16` keeps the frozen matrices in bfloat16 for the stage: both stages train
    /// (stage 2 widens the language model back when it trains it), the frozen weights stay unchanged,
    /// and the losses follow the Float32 run's to the weights' rounding.
    func testFrozenWeightsInBFloat16TrainLikeFloat32() throws {
        let results = try [false, true].map { compact in
            try trainBothStages(["stages.0.epochs=1", "stages.1.epochs=1",
                                 "stages.0.frozen_weights_bf16=\(compact)", "stages.1.frozen_weights_bf16=\(compact)"])
        }
        XCTAssertEqual(results[0].losses.count, results[1].losses.count)
        for (i, (x, y)) in zip(results[0].losses, results[1].losses).enumerated() {
            XCTAssertEqual(y, x, accuracy: 0.02 * max(1, abs(x)), "logged loss \(i)")
        }
        XCTAssertNotEqual(results[0].losses, results[1].losses, "bfloat16 rounding changed nothing: were the weights converted?")
        XCTAssertEqual(Set(results[0].weights.keys), Set(results[1].weights.keys))
        XCTAssertTrue(results[1].weights.values.allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    /// loom export: the folder loads as LlavaForConditionalGeneration (Loom's loader reads every layout
    /// transformers does) and gives the trained model's logits. tools/check_llava_export.py checks
    /// the same folder in transformers itself.
    func testExportedLlavaFolderReproducesTheTrainedModel() throws {
        try checkExport(extraOverrides: [])
    }

    /// The same with a LoRA stage 2: the adapter is merged into the exported weights.
    func testExportMergesALoRAStage() throws {
        try checkExport(extraOverrides: ["stages.1.learning_rate=0.05", "stages.1.lora={r: 4, lora_alpha: 8, lora_dropout: 0.0}", #"stages.1.trainable=["modalities.*.connector.*"]"#])
    }

    func checkExport(extraOverrides: [String]) throws {
        let directory = temporaryRun(), export = temporaryRun()
        defer { try? FileManager.default.removeItem(at: directory); try? FileManager.default.removeItem(at: export) }
        let run = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: ["stages.0.epochs=null", "stages.0.steps=3", "stages.1.epochs=null", "stages.1.steps=2"] + extraOverrides), directory: directory)
        run.log = { _ in }
        try run.train()
        let fresh = try TrainingRun(recipe: try Recipe.load(run: directory), directory: directory)
        fresh.log = { _ in }
        XCTAssertEqual(try fresh.loadFinishedStages()?.name, "instruct")
        try LlavaExport.write(run: fresh, to: export)
        let llava = try LlavaForConditionalGeneration.load(directory: export.path)

        var rng = RandomGenerator(seed: 3)
        let pixels = Tensor.randomNormal([1, 3, 32, 32], generator: &rng)
        let imageId = try XCTUnwrap(fresh.tokenizer.tokenToId("<image>"))
        let ids = [1, 40, 41] + [Int](repeating: imageId, count: 16) + [50, 51, 52]
        let expected = try withoutGradients {
            try fresh.model.logits(inputIds: IntTensor(shape: [1, ids.count], scalars: ids.map { $0 == imageId ? 0 : $0 }),
                                   media: [ModalityInputs(name: "image", inputs: pixels, slots: Array(3..<19))], attentionMask: nil)
        }
        let actual = try withoutGradients { try llava.logits(inputIds: IntTensor(shape: [1, ids.count], scalars: ids), pixelValues: pixels) }
        let diff = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(diff, 1e-4)
        // With LoRA, the adapter must matter (so a missing merge would be caught above).
        if let (_, layer) = LoRA.adaptedLayers(of: fresh.model.languageModel).first {
            let delta = try XCTUnwrap(withoutGradients { layer.loraDelta() })
            XCTAssertGreaterThan(delta.scalars.map(abs).max()!, 1e-3)
        }
    }

    /// Non-finite losses skip their step; several in a row stop the run with a clear message, and
    /// the last good checkpoint stays intact.
    func testNonFiniteLossesStopTheRunAndKeepTheLastCheckpoint() throws {
        let directory = temporaryRun()
        defer { try? FileManager.default.removeItem(at: directory) }
        let recipe = try Recipe.load(Self.recipe, overrides: ["stages.0.epochs=null", "stages.0.steps=8", "stages.0.save_every=2"])
        let run = try TrainingRun(recipe: recipe, directory: directory)
        run.log = { _ in }
        run.afterStep = { [unowned run] _, step in
            guard step == 2 else { return }  // poison the connector after checkpoint 2
            run.model.modality("image")!.connector.parameters[0].withUnsafeMutableBufferPointer { $0[0] = .nan }
        }
        XCTAssertThrowsError(try run.train(onlyStage: "align")) { error in
            XCTAssertTrue("\(error)".contains("non-finite steps in a row"), "\(error)")
        }
        let stage = directory.appendingPathComponent("align")
        XCTAssertEqual(try Checkpoint.completeCheckpoints(in: stage).map(\.step), [2])
        let weights = try SafetensorsFile(path: stage.appendingPathComponent("checkpoint-2/trainable.safetensors").path)
        for name in weights.names { XCTAssertTrue(try weights.tensor(name).scalars.allSatisfy(\.isFinite), name) }
    }

    /// A stage can start from a projector trained by LLaVA (`mm_projector.bin` keys) or saved by
    /// transformers (`multi_modal_projector.linear_N`).
    func testProjectorFilesOfLLaVAAndTransformersLoadIntoTheConnector() throws {
        let run = try TrainingRun(recipe: try Recipe.load(Self.recipe), directory: temporaryRun())
        run.log = { _ in }
        let connector = try XCTUnwrap(run.model.modality("image")).connector
        for prefix in ["model.mm_projector.", "multi_modal_projector.linear_"] {
            var rng = RandomGenerator(seed: 5)
            let entries = connector.namedParameters().map { key, tensor -> SafetensorsWriter.Entry in
                let index = Int(key.prefix { $0 != "." })!
                let name = prefix.hasSuffix("linear_") ? "\(prefix)\(index / 2 + 1)\(key.drop { $0 != "." })" : prefix + key
                return SafetensorsWriter.Entry(name, Tensor.randomNormal(tensor.shape, generator: &rng))
            }
            let file = temporaryRun().appendingPathExtension("safetensors")
            defer { try? FileManager.default.removeItem(at: file) }
            try SafetensorsWriter.write(entries, to: file.path)
            try run.loadTrainableWeights(from: file)
            for (entry, (key, tensor)) in zip(entries, connector.namedParameters()) {
                guard case .floats(let stored) = entry.values else { return XCTFail("\(entry.name) is not float") }
                XCTAssertEqual(tensor.scalars, stored.scalars, "\(prefix): \(key)")
            }
        }
    }

    /// `output_norm`: the connector's RMSNorm gain starts at the RMS of the language model's embedding
    /// table, and such a projector is not exported as LLaVA's.
    func testOutputNormStartsAtTheEmbeddingScaleAndIsNotExportedToLLaVA() throws {
        let directory = temporaryRun()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: ["modalities.image.connector_options={output_norm: true}"]),
                                  directory: directory)
        run.log = { _ in }
        let connector = try XCTUnwrap(run.model.modality("image")?.connector as? MLPGELUConnector)
        let gain = try XCTUnwrap(connector.outputNorm).weight.scalars
        let table = run.model.languageModel.model.embedTokens.weight.scalars
        let rms = (table.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(table.count)).squareRoot()
        XCTAssertEqual(Set(gain).count, 1)
        XCTAssertEqual(Double(gain[0]), rms, accuracy: 1e-6)
        XCTAssertThrowsError(try LlavaExport.write(run: run, to: directory.appendingPathComponent("export"))) { error in
            XCTAssert("\(error)".contains("output_norm"), "\(error)")
        }
    }

    /// A checkpoint corrupted on disk fails its checksum; --resume falls back to the previous good
    /// one and still ends bit-identical to an uninterrupted run.
    func testResumeSkipsACorruptedCheckpoint() throws {
        let overrides = ["stages.0.epochs=null", "stages.0.steps=6", "stages.0.save_every=2", "stages.0.keep_last=2"]
        let full = temporaryRun(), broken = temporaryRun()
        defer { try? FileManager.default.removeItem(at: full); try? FileManager.default.removeItem(at: broken) }
        let reference = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: full)
        reference.log = { _ in }
        try reference.train(onlyStage: "align")

        let first = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: broken)
        first.log = { _ in }
        first.afterStep = { _, step in if step == 5 { throw Interrupted() } }
        XCTAssertThrowsError(try first.train(onlyStage: "align"))
        let stage = broken.appendingPathComponent("align")
        XCTAssertEqual(try Checkpoint.completeCheckpoints(in: stage).map(\.step), [2, 4])
        // Flip one byte of the newest checkpoint's weights.
        let weights = stage.appendingPathComponent("checkpoint-4/trainable.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 3] ^= 0xFF
        try bytes.write(to: weights)
        XCTAssertNotNil(Checkpoint.verify(stage.appendingPathComponent("checkpoint-4")))
        XCTAssertNil(Checkpoint.verify(stage.appendingPathComponent("checkpoint-2")))

        let second = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: broken)
        second.log = { _ in }
        try second.train(onlyStage: "align", resume: true)
        let a = try SafetensorsFile(path: full.appendingPathComponent("align/final/trainable.safetensors").path)
        let b = try SafetensorsFile(path: broken.appendingPathComponent("align/final/trainable.safetensors").path)
        for name in a.names { XCTAssertEqual(try a.tensor(name).scalars, try b.tensor(name).scalars, name) }
    }

    struct Interrupted: Error {}

    func testResumeAfterAnInterruptionIsBitIdentical() throws {
        let overrides = ["stages.0.epochs=2", "stages.0.save_every=2"]
        let full = temporaryRun(), broken = temporaryRun()
        defer { try? FileManager.default.removeItem(at: full); try? FileManager.default.removeItem(at: broken) }
        let reference = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: full)
        reference.log = { _ in }
        try reference.train(onlyStage: "align")

        let first = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: broken)
        first.log = { _ in }
        first.afterStep = { _, step in if step == 5 { throw Interrupted() } }  // dies after checkpoint 4
        XCTAssertThrowsError(try first.train(onlyStage: "align"))
        let second = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: overrides), directory: broken)
        second.log = { _ in }
        try second.train(onlyStage: "align", resume: true)

        let a = try SafetensorsFile(path: full.appendingPathComponent("align/final/trainable.safetensors").path)
        let b = try SafetensorsFile(path: broken.appendingPathComponent("align/final/trainable.safetensors").path)
        XCTAssertEqual(a.names, b.names)
        for name in a.names { XCTAssertEqual(try a.tensor(name).scalars, try b.tensor(name).scalars, name) }
        // metrics.jsonl is rewritten from the checkpoint on resume: the logged losses match too.
        XCTAssertEqual(try losses(full.appendingPathComponent("align")), try losses(broken.appendingPathComponent("align")))
    }

    /// The `loom` binary next to the test bundle (tools/test.sh builds it before the tests).
    static var loomBinary: String? {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("loom").path
        let candidates = [beside, root.appendingPathComponent(".build/debug/loom").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func loom(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(Self.loomBinary, "build the loom binary first: swift build --product loom"))
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// SIGKILL a real `loom train` process ten times (at random moments after a new checkpoint, and
    /// every other time while it is writing one), resume it with --resume each time, and compare with a
    /// run that was never interrupted.
    func testSIGKILLThenResumeGivesBitIdenticalWeights() throws {
        let arguments = ["train", Self.recipe, "--stage", "align", "--set", "stages.0.epochs=4", "--set", "stages.0.save_every=1",
                         "--set", "stages.0.keep_last=2", "--threads", "1"]
        let reference = temporaryRun(), killed = temporaryRun()
        defer { try? FileManager.default.removeItem(at: reference); try? FileManager.default.removeItem(at: killed) }
        let uninterrupted = try loom(arguments + ["--output", reference.path])
        uninterrupted.waitUntilExit()
        XCTAssertEqual(uninterrupted.terminationStatus, 0)

        let stageDirectory = killed.appendingPathComponent("align")
        func newest() -> Int { (try? Checkpoint.completeCheckpoints(in: stageDirectory).last?.step) ?? 0 }
        func partialFolders() -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: stageDirectory.path)) ?? []
            return names.filter { $0.hasPrefix(".") && $0.contains(".partial-") }
        }
        /// Whether `process` is writing a checkpoint folder.
        func writing(_ process: Process) -> Bool {
            partialFolders().contains { $0.hasPrefix(".checkpoint-") && $0.hasSuffix(".partial-\(process.processIdentifier)") }
        }
        var generator = SystemRandomNumberGenerator()
        var kills = 0, killsWhileWriting = 0
        for attempt in 0..<10 {
            let process = try loom(arguments + ["--output", killed.path] + (attempt > 0 ? ["--resume"] : []))
            let start = Date(), before = newest()
            if attempt % 2 == 1 {
                // Kill it while a checkpoint folder is being written (the writes are fsynced one by one).
                while process.isRunning, Date().timeIntervalSince(start) < 30, !writing(process) {}
            } else {
                // Let it write at least one more checkpoint, then kill it at a random moment.
                while process.isRunning, Date().timeIntervalSince(start) < 30, newest() <= before { usleep(2_000) }
                usleep(UInt32.random(in: 0...150_000, using: &generator))
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
                process.waitUntilExit()
                if writing(process) { killsWhileWriting += 1 }
            }
            process.waitUntilExit()
        }
        XCTAssertGreaterThanOrEqual(kills, 8, "the run ended before it could be killed ten times")
        XCTAssertGreaterThan(killsWhileWriting, 0, "no kill landed during a checkpoint write")
        let resumed = try loom(arguments + ["--output", killed.path, "--resume"])
        resumed.waitUntilExit()
        XCTAssertEqual(resumed.terminationStatus, 0)
        XCTAssertEqual(partialFolders(), [], "partial folders were left behind")

        let a = try SafetensorsFile(path: reference.appendingPathComponent("align/final/trainable.safetensors").path)
        let b = try SafetensorsFile(path: killed.appendingPathComponent("align/final/trainable.safetensors").path)
        XCTAssertEqual(a.names, b.names)
        for name in a.names { XCTAssertEqual(try a.tensor(name).scalars, try b.tensor(name).scalars, name) }
        XCTAssertEqual(try losses(reference.appendingPathComponent("align")), try losses(killed.appendingPathComponent("align")))
    }
}
