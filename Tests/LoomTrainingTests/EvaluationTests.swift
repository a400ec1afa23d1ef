import Foundation
import XCTest
import LoomTensor
@testable import LoomTraining

final class EvaluationTests: XCTestCase {
    func testMetricsOnKnownCases() {
        XCTAssertTrue(TaskMetrics.exactMatch("Red.", "red"))
        XCTAssertFalse(TaskMetrics.exactMatch("a red", "red"))
        XCTAssertEqual(TaskMetrics.bleu4(predictions: ["the cat sat on the mat"], references: ["The cat sat on the mat."]), 1, accuracy: 1e-12)
        XCTAssertEqual(TaskMetrics.bleu4(predictions: ["a b c d e"], references: ["a b c d e f"]), Foundation.exp(-0.2), accuracy: 1e-12)
        XCTAssertEqual(TaskMetrics.bleu4(predictions: ["a b c"], references: ["x y z w"]), 0)
        XCTAssertEqual(TaskMetrics.wordErrorRate(predictions: ["a x c"], references: ["a b c d"]), 0.5, accuracy: 1e-12)
        XCTAssertEqual(TaskMetrics.wordErrorRate(predictions: ["a b c d e"], references: ["a b c d"]), 0.25, accuracy: 1e-12)
        XCTAssertEqual(TaskMetrics.wordErrorRate(predictions: ["", "a"], references: ["a b", "a"]), 2.0 / 3, accuracy: 1e-12)
    }

    func testEvalAndChatOnATrainedSmokeRun() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let recipe = try Recipe.load(SmokeRunTests.recipe, overrides: ["stages.0.epochs=null", "stages.0.steps=2",
                                                                       "stages.1.epochs=null", "stages.1.steps=2"])
        let run = try TrainingRun(recipe: recipe, directory: directory)
        run.log = { _ in }
        try run.train()
        let reloaded = try TrainingRun(recipe: try Recipe.load(run: directory), directory: directory)
        reloaded.log = { _ in }
        let stage = try XCTUnwrap(try reloaded.loadFinishedStages())
        let report = try Evaluation.run(reloaded, stage: stage, maxSamples: 2, maxNewTokens: 4)
        XCTAssertEqual(report.samples, 2)
        XCTAssertNotNil(report.evalLoss)
        // The eval loss runs each batch as one shard of samples per core; on one thread, whole batches.
        let original = Threads.count
        defer { Threads.setCount(original) }
        let losses = try [1, 2, 3].map { threads in
            Threads.setCount(threads)
            return try XCTUnwrap(Evaluation.run(reloaded, stage: stage, maxSamples: 0).evalLoss)
        }
        XCTAssertEqual(losses[1], losses[0], accuracy: 1e-6 * losses[0])
        XCTAssertEqual(losses[2], losses[0], accuracy: 1e-6 * losses[0])
        XCTAssertEqual(report.exactMatchCount, 2)  // short answers ("red", "a square")
        let image = SmokeRunTests.root.appendingPathComponent("Tests/LoomTrainingTests/Fixtures/smoke/images/eval_00.png").path
        let reply = try Responder(run: reloaded, stage: stage).reply(to: [.init(from: "human", value: "<image>\nWhat colour is the shape?")],
                                                                         media: ["image": [image]])
        XCTAssertFalse(reply.isEmpty)
        XCTAssertThrowsError(try Responder(run: reloaded, stage: stage).reply(to: [.init(from: "human", value: "<image> two <image>")],
                                                                                  media: ["image": [image]]))
    }
}
