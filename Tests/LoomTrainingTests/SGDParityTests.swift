import XCTest
import LoomTensor
@testable import LoomTraining

/// Replays sgd.json: SGD (momentum, dampening, Nesterov, weight decay) + linear schedule vs PyTorch.
final class SGDParityTests: XCTestCase {
    struct File: Decodable {
        let cases: [Case]
    }

    struct Case: Decodable {
        let seed: Int
        let momentum: Double
        let dampening: Double
        let nesterov: Bool
        let totalSteps: Int
        let warmupSteps: Int
        let names: [String]
        let shapes: [[Int]]
        let groups: [GroupSpec]
        let initialParams: [[Double]]
        let steps: [StepRecord]
        enum CodingKeys: String, CodingKey {
            case seed, momentum, dampening, nesterov, names, shapes, groups, steps
            case totalSteps = "total_steps", warmupSteps = "warmup_steps", initialParams = "initial_params"
        }
    }

    func testMatchesPyTorch() throws {
        let file = try Fixture.load(File.self, "sgd")
        XCTAssertFalse(file.cases.isEmpty)
        var params = Discrepancy()
        for fixture in file.cases {
            let parameters = makeParameters(shapes: fixture.shapes, values: fixture.initialParams, names: fixture.names)
            let optimizer = SGD(makeGroups(fixture.groups, parameters: parameters),
                                momentum: fixture.momentum, dampening: fixture.dampening, nesterov: fixture.nesterov)
            let scheduler = LearningRateScheduler(
                optimizer: optimizer,
                schedule: LearningRateSchedule(kind: .linear, totalSteps: fixture.totalSteps, warmupSteps: fixture.warmupSteps))
            for (k, record) in fixture.steps.enumerated() {
                let context = "seed \(fixture.seed) update \(k)"
                setGradients(parameters, record.grads)
                XCTAssertEqual(scheduler.learningRates, record.learningRates, "\(context): learning rates")
                optimizer.step()
                scheduler.step()
                for (i, parameter) in parameters.enumerated() {
                    params.compare(parameter.scalars, Fixture.floats(record.params[i]), "\(context): \(fixture.names[i])")
                }
            }
        }
        print("SGD vs PyTorch, parameters: \(params)")
    }
}
