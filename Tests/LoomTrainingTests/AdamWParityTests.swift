import XCTest
import LoomTensor
@testable import LoomTraining

/// Replays adamw.json: AdamW + cosine warmup schedule + clip_grad_norm_ against PyTorch.
final class AdamWParityTests: XCTestCase {
    struct File: Decodable {
        let cases: [Case]
    }

    struct Case: Decodable {
        let seed: Int
        let betas: [Double]
        let eps: Double
        let totalSteps: Int
        let warmupRatio: Double
        let warmupSteps: Int
        let maxNorm: Double
        let names: [String]
        let shapes: [[Int]]
        let groups: [GroupSpec]
        let initialParams: [[Double]]
        let steps: [StepRecord]
        let finalState: [StateRecord]
        enum CodingKeys: String, CodingKey {
            case seed, betas, eps, names, shapes, groups, steps
            case totalSteps = "total_steps", warmupRatio = "warmup_ratio", warmupSteps = "warmup_steps"
            case maxNorm = "max_norm", initialParams = "initial_params", finalState = "final_state"
        }
    }

    struct StateRecord: Decodable {
        let step: Int
        let expAvg: [Double]
        let expAvgSq: [Double]
        enum CodingKeys: String, CodingKey { case step, expAvg = "exp_avg", expAvgSq = "exp_avg_sq" }
    }

    func testMatchesPyTorch() throws {
        let file = try Fixture.load(File.self, "adamw")
        XCTAssertFalse(file.cases.isEmpty)
        var params = Discrepancy(), state = Discrepancy()
        var maxNormRelative = 0.0
        for fixture in file.cases {
            // The fixture must exercise what it claims: clipped and unclipped updates, missing grads.
            let norms = fixture.steps.compactMap(\.totalNorm)
            XCTAssertTrue(norms.contains { $0 > fixture.maxNorm } && norms.contains { $0 < fixture.maxNorm })
            XCTAssertTrue(fixture.steps.contains { $0.grads.contains { $0 == nil } })
            XCTAssertGreaterThan(fixture.warmupSteps, 0)

            let parameters = makeParameters(shapes: fixture.shapes, values: fixture.initialParams, names: fixture.names)
            let optimizer = AdamW(makeGroups(fixture.groups, parameters: parameters),
                                  beta1: fixture.betas[0], beta2: fixture.betas[1], epsilon: fixture.eps)
            let warmup = LearningRateSchedule.warmupSteps(totalSteps: fixture.totalSteps, warmupRatio: fixture.warmupRatio)
            XCTAssertEqual(warmup, fixture.warmupSteps)
            let scheduler = LearningRateScheduler(
                optimizer: optimizer,
                schedule: LearningRateSchedule(kind: .cosine, totalSteps: fixture.totalSteps, warmupSteps: warmup))

            for (k, record) in fixture.steps.enumerated() {
                let context = "seed \(fixture.seed) update \(k)"
                setGradients(parameters, record.grads)
                let total = clipGradientNorm(parameters, maxNorm: fixture.maxNorm)
                let expectedTotal = try XCTUnwrap(record.totalNorm)
                maxNormRelative = max(maxNormRelative, abs(total - expectedTotal) / expectedTotal)
                XCTAssertEqual(total, expectedTotal, accuracy: 1e-6 * expectedTotal, "\(context): clip norm")
                XCTAssertEqual(scheduler.learningRates, record.learningRates, "\(context): learning rates")
                optimizer.step()
                scheduler.step()
                for (i, parameter) in parameters.enumerated() {
                    params.compare(parameter.scalars, Fixture.floats(record.params[i]), "\(context): \(fixture.names[i])")
                }
            }
            for (i, expected) in fixture.finalState.enumerated() {
                let actual = try XCTUnwrap(optimizer.states[i], "seed \(fixture.seed): no state for \(fixture.names[i])")
                XCTAssertEqual(actual.step, expected.step, "seed \(fixture.seed): step count of \(fixture.names[i])")
                state.compare(actual.expAvg.scalars, Fixture.floats(expected.expAvg), "exp_avg of \(fixture.names[i])")
                state.compare(actual.expAvgSq.scalars, Fixture.floats(expected.expAvgSq), "exp_avg_sq of \(fixture.names[i])")
            }
        }
        print("AdamW vs PyTorch, parameters: \(params)")
        print("AdamW vs PyTorch, final moments: \(state)")
        print("AdamW vs PyTorch, clip norms: max relative diff \(maxNormRelative)")
    }
}
