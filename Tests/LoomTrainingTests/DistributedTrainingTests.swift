import Foundation
import XCTest
import LoomCheckpoint
import LoomTensor
@testable import LoomData
@testable import LoomTraining

/// Data-parallel training on Open MPI (docs/distributed.md): 2 ranks with batch b give the weights and
/// losses of 1 rank with batch 2b; a killed rank stops the run within a bounded time; resuming with 2
/// ranks ends bit-identical to an uninterrupted 2-rank run. The runs are real `mpirun -np 2 loom train`
/// processes on loopback (tools/test.sh builds the binary and installs openmpi-bin).
final class DistributedTrainingTests: XCTestCase {
    static let recipe = SmokeRunTests.recipe
    /// Both stages of the smoke recipe, two epochs each: stage 1 (connector) and stage 2 (connector +
    /// full language model, with gradient accumulation).
    static let schedule = ["stages.0.epochs=2", "stages.1.epochs=2"]

    static var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func temporaryRun() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("loom-mpi-\(UUID().uuidString)")
    }

    /// `mpirun -np ranks loom train …`, started (not waited for).
    func launch(ranks: Int, _ arguments: [String]) throws -> Process {
        guard let mpirun = Self.mpirun else { throw XCTSkip("Open MPI's mpirun is not installed (apt-get install openmpi-bin)") }
        let loom = try XCTUnwrap(SmokeRunTests.loomBinary, "build the loom binary first: swift build --product loom")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), loom] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMPI_MCA_btl"] = "self,vader"   // one machine: shared memory, no network probing
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func trainArguments(_ output: URL, batch: Int, extra: [String] = []) -> [String] {
        ["train", Self.recipe, "--output", output.path, "--threads", "1",
         "--set", "stages.0.batch_size=\(batch)", "--set", "stages.1.batch_size=\(batch)"]
            + (Self.schedule + extra).flatMap { ["--set", $0] }
    }

    /// The logged step losses of a stage folder's metrics.jsonl.
    func losses(_ stage: URL) throws -> [Double] {
        try String(contentsOf: stage.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.compactMap { $0["loss"] as? Double }
    }

    func weights(_ run: URL, _ stage: String) throws -> [String: [Float]] {
        let file = try SafetensorsFile(path: run.appendingPathComponent("\(stage)/final/trainable.safetensors").path)
        return Dictionary(uniqueKeysWithValues: try file.names.map { ($0, try file.tensor($0).scalars) })
    }

    /// Both stages on `mpirun -np 2` with batch 2 into `two`, and in this process (one rank, batch 4,
    /// all threads) into `one`, each with the `extra` overrides.
    func trainOnTwoRanksAndOnOne(into one: URL, _ two: URL, extra: [String] = []) throws {
        let parallel = try launch(ranks: 2, trainArguments(two, batch: 2, extra: extra))
        let reference = try TrainingRun(recipe: try Recipe.load(Self.recipe, overrides: Self.schedule + extra + ["stages.0.batch_size=4", "stages.1.batch_size=4"]),
                                        directory: one, communicator: SingleProcess())
        reference.log = { _ in }
        try reference.train()
        parallel.waitUntilExit()
        XCTAssertEqual(parallel.terminationStatus, 0)
    }

    /// Float32 agreement: each rank's GEMMs have other shapes than the single process's (half the
    /// rows; the last layer cut at the rank's own first reply), and OpenBLAS sums small products
    /// in another order. Measured: 1.2e-6 relative; `reproducible_gradients` gives equal bits.
    func testTwoRanksEqualOneRankWithTwiceTheBatch() throws {
        let one = temporaryRun(), two = temporaryRun()
        defer { try? FileManager.default.removeItem(at: one); try? FileManager.default.removeItem(at: two) }
        try trainOnTwoRanksAndOnOne(into: one, two)

        for stage in ["align", "instruct"] {
            let a = try weights(one, stage), b = try weights(two, stage)
            XCTAssertEqual(Set(a.keys), Set(b.keys), stage)
            var worst = 0.0
            for (key, x) in a {
                let y = try XCTUnwrap(b[key])
                let scale = Double(x.map { abs($0) }.max() ?? 0)
                let diff = Double(zip(x, y).map { abs($0 - $1) }.max() ?? 0)
                worst = max(worst, scale > 0 ? diff / scale : diff)
            }
            XCTAssertLessThanOrEqual(worst, 3e-6, "\(stage): 2 ranks differ from 1 rank by \(worst) (relative)")
            let l1 = try losses(one.appendingPathComponent(stage)), l2 = try losses(two.appendingPathComponent(stage))
            XCTAssertEqual(l1.count, l2.count, stage)
            XCTAssertGreaterThan(l1.count, 3, stage)
            for (x, y) in zip(l1, l2) { XCTAssertEqual(x, y, accuracy: 3e-6 * max(1, abs(x)), stage) }
        }
        // Only rank 0 wrote: one metrics line per step, not two.
        let steps = try losses(two.appendingPathComponent("align")).count
        let lines = try String(contentsOf: two.appendingPathComponent("align/metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").filter { $0.contains("\"grad_norm\"") }.count
        XCTAssertEqual(lines, steps)
    }

    /// With `reproducible_gradients` (samples one by one, exact sums, integer all-reduce) the split
    /// is invisible: 2 ranks of 1 thread with batch b end with the same bits as 1 process with batch
    /// 2b and all its threads, in both stages (stage 2 with gradient accumulation).
    func testReproducibleGradientsGiveTheSameBitsOnTwoRanksAsOnOne() throws {
        let one = temporaryRun(), two = temporaryRun()
        defer { try? FileManager.default.removeItem(at: one); try? FileManager.default.removeItem(at: two) }
        try trainOnTwoRanksAndOnOne(into: one, two, extra: ["stages.0.reproducible_gradients=true", "stages.1.reproducible_gradients=true"])
        for stage in ["align", "instruct"] {
            let a = try weights(one, stage), b = try weights(two, stage)
            XCTAssertEqual(Set(a.keys), Set(b.keys), stage)
            for (key, x) in a {
                let y = try XCTUnwrap(b[key])
                XCTAssertEqual(x.map(\.bitPattern), y.map(\.bitPattern), "\(stage) \(key): max |diff| \(zip(x, y).map { abs($0 - $1) }.max() ?? 0)")
            }
            // The logged loss is a Double sum of the samples' losses, added in another order.
            let l1 = try losses(one.appendingPathComponent(stage)), l2 = try losses(two.appendingPathComponent(stage))
            XCTAssertEqual(l1.count, l2.count, stage)
            for (x, y) in zip(l1, l2) { XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(x)), stage) }
        }
    }

    /// SIGKILL one rank mid-stage: mpirun stops the other within a bounded time (no hang), the last
    /// complete checkpoint stays usable, and resuming with 2 ranks ends bit-identical to a 2-rank run
    /// that was never interrupted.
    func testKilledRankStopsTheRunAndResumeIsBitIdentical() throws {
        let reference = temporaryRun(), killed = temporaryRun()
        defer { try? FileManager.default.removeItem(at: reference); try? FileManager.default.removeItem(at: killed) }
        let extra = ["stages.0.epochs=4", "stages.0.save_every=1", "stages.0.keep_last=2"]
        let uninterrupted = try launch(ranks: 2, trainArguments(reference, batch: 2, extra: extra) + ["--stage", "align"])
        uninterrupted.waitUntilExit()
        XCTAssertEqual(uninterrupted.terminationStatus, 0)

        let job = try launch(ranks: 2, trainArguments(killed, batch: 2, extra: extra) + ["--stage", "align"])
        let stage = killed.appendingPathComponent("align")
        let start = Date()
        while job.isRunning, Date().timeIntervalSince(start) < 60,
              ((try? Checkpoint.completeCheckpoints(in: stage).last?.step) ?? 0) < 3 {
            usleep(5_000)
        }
        XCTAssertTrue(job.isRunning, "the run ended before it could be interrupted")
        // One of the ranks (a child of mpirun running loom) dies.
        let ranks = try children(of: job.processIdentifier)
        XCTAssertEqual(ranks.count, 2, "mpirun's children: \(ranks)")
        kill(ranks.last!, SIGKILL)
        let killedAt = Date()
        while job.isRunning, Date().timeIntervalSince(killedAt) < 60 { usleep(20_000) }
        XCTAssertFalse(job.isRunning, "the surviving rank did not stop within 60 s")
        if job.isRunning { job.terminate() }
        XCTAssertNotEqual(job.terminationStatus, 0)

        let resumed = try launch(ranks: 2, trainArguments(killed, batch: 2, extra: extra) + ["--stage", "align", "--resume"])
        resumed.waitUntilExit()
        XCTAssertEqual(resumed.terminationStatus, 0)
        let a = try weights(reference, "align"), b = try weights(killed, "align")
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (key, x) in a { XCTAssertEqual(x, b[key], key) }
        XCTAssertEqual(try losses(reference.appendingPathComponent("align")), try losses(stage))
    }

    /// PIDs whose parent is `pid` (from /proc).
    func children(of pid: Int32) throws -> [Int32] {
        var result: [Int32] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let child = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == pid { result.append(child) }
        }
        return result.sorted()
    }

    /// The loader's shards of a global batch are disjoint, cover it, and keep one slot per batch index
    /// on every rank (so ranks stay in step even when a short last batch leaves one rank nothing).
    func testShardsPartitionEveryGlobalBatch() throws {
        for count in 1...3 {
            // A full global batch, a short one, and (with several ranks) one too short to reach the last rank.
            for size in Set([4 * count, 4 * count - 1, max(1, 4 * (count - 1))]) {
                let batch = Array(100..<(100 + size))
                var seen: [Int] = []
                for rank in 0..<count {
                    let options = DataLoader.Options(batchSize: 4, shardRank: rank, shardCount: count)
                    let loader = try DataLoader(samples: [], collator: Collator(tokensPerItem: [:], placeholders: [], maxLength: 8, padTokenId: 0),
                                                mediaLoaders: [:], options: options)
                    XCTAssertEqual(options.globalBatchSize, 4 * count)
                    let shard = loader.shard(batch)
                    XCTAssertEqual(shard.count, max(0, min(4, size - 4 * rank)), "rank \(rank) of \(count), batch \(size)")
                    seen += shard
                }
                XCTAssertEqual(seen, batch)
            }
        }
    }
}
