import Foundation
import XCTest
import LoomCheckpoint
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
}
