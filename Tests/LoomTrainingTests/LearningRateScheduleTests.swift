import Foundation
import XCTest
import LoomTensor
@testable import LoomTraining

final class LearningRateScheduleTests: XCTestCase {
    struct File: Decodable {
        let cases: [Case]
        let warmupRatios: [Ratio]
        enum CodingKeys: String, CodingKey { case cases, warmupRatios = "warmup_ratios" }
    }

    struct Case: Decodable {
        let kind: LearningRateScheduleKind
        let totalSteps: Int
        let warmupSteps: Int
        let multipliers: [Double]
        enum CodingKeys: String, CodingKey {
            case kind, multipliers, totalSteps = "total_steps", warmupSteps = "warmup_steps"
        }
    }

    struct Ratio: Decodable {
        let totalSteps: Int
        let warmupRatio: Double
        let warmupSteps: Int
        enum CodingKeys: String, CodingKey {
            case totalSteps = "total_steps", warmupRatio = "warmup_ratio", warmupSteps = "warmup_steps"
        }
    }

    func testMultipliersMatchTransformers() throws {
        let file = try Fixture.load(File.self, "schedules")
        XCTAssertEqual(Set(file.cases.map(\.kind)), Set(LearningRateScheduleKind.allCases))
        var maxDiff = 0.0
        for fixture in file.cases {
            let schedule = LearningRateSchedule(kind: fixture.kind, totalSteps: fixture.totalSteps, warmupSteps: fixture.warmupSteps)
            for (k, expected) in fixture.multipliers.enumerated() {
                let actual = schedule.multiplier(step: k)
                maxDiff = max(maxDiff, abs(actual - expected))
                XCTAssertEqual(actual, expected, accuracy: 1e-12,
                               "\(fixture.kind.rawValue) T=\(fixture.totalSteps) W=\(fixture.warmupSteps) k=\(k)")
            }
        }
        print("schedules vs transformers: max |diff| \(maxDiff)")
    }

    func testWarmupRatioBecomesSteps() throws {
        let file = try Fixture.load(File.self, "schedules")
        for ratio in file.warmupRatios {
            XCTAssertEqual(LearningRateSchedule.warmupSteps(totalSteps: ratio.totalSteps, warmupRatio: ratio.warmupRatio),
                           ratio.warmupSteps, "T=\(ratio.totalSteps) ratio=\(ratio.warmupRatio)")
        }
        // Explicit warmup steps win over the ratio, as in TrainingArguments.
        XCTAssertEqual(LearningRateSchedule.warmupSteps(totalSteps: 100, warmupSteps: 7, warmupRatio: 0.5), 7)
    }

    func testKindsDecodeFromTransformersNames() throws {
        let json = #"["constant", "constant_with_warmup", "linear", "cosine"]"#
        let kinds = try JSONDecoder().decode([LearningRateScheduleKind].self, from: Data(json.utf8))
        XCTAssertEqual(kinds, [.constant, .constantWithWarmup, .linear, .cosine])
        XCTAssertThrowsError(try JSONDecoder().decode([LearningRateScheduleKind].self, from: Data(#"["cosine_with_restarts"]"#.utf8)))
    }

    func testSchedulerSetsBaseTimesMultiplierFromTheFirstUpdate() {
        let a = Tensor(zeros: [2]), b = Tensor(zeros: [3])
        let optimizer = AdamW([ParameterGroup(parameters: [a], learningRate: 2e-5),
                               ParameterGroup(parameters: [b], learningRate: 1e-3)])
        let schedule = LearningRateSchedule(kind: .cosine, totalSteps: 10, warmupSteps: 4)
        let scheduler = LearningRateScheduler(optimizer: optimizer, schedule: schedule)
        XCTAssertEqual(scheduler.baseLearningRates, [2e-5, 1e-3])
        XCTAssertEqual(optimizer.learningRates, [0, 0], "the first update uses λ(0) = 0 under warmup")
        for k in 1...10 {
            scheduler.step()
            let factor = schedule.multiplier(step: k)
            XCTAssertEqual(optimizer.learningRates, [2e-5 * factor, 1e-3 * factor])
        }
        XCTAssertEqual(optimizer.learningRates, [0, 0], "update T has λ = 0")
        // A second scheduler on the same optimizer still scales the groups' base rates.
        let again = LearningRateScheduler(optimizer: optimizer, schedule: schedule, step: 6)
        XCTAssertEqual(again.learningRates, [2e-5 * schedule.multiplier(step: 6), 1e-3 * schedule.multiplier(step: 6)])

        // Resuming after 5 updates gives the rates update 5 would have had.
        let fresh = AdamW([ParameterGroup(parameters: [a], learningRate: 2e-5),
                           ParameterGroup(parameters: [b], learningRate: 1e-3)])
        let resumed = LearningRateScheduler(optimizer: fresh, schedule: schedule, step: 5)
        XCTAssertEqual(resumed.learningRates, [2e-5 * schedule.multiplier(step: 5), 1e-3 * schedule.multiplier(step: 5)])
    }
}
