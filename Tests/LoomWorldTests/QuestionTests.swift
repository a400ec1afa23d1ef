import XCTest
@testable import LoomWorld

final class QuestionTests: XCTestCase {
    func testEveryAnswerIsRightForItsScene() throws {
        var random = WorldRandom(seed: 11)
        var generator = QuestionGenerator(random: &random)
        var kinds: [QuestionKind: Int] = [:]
        for scene in sampleScenes(5000, seed: 5) {
            let question = generator.question(for: scene, random: &random)
            kinds[question.kind, default: 0] += 1
            switch AnswerOracle.answer(question.text, items: AnswerOracle.items(scene)) {
            case .success(let answer): XCTAssertEqual(answer, question.answer, question.text)
            case .failure(let reason): XCTFail("\(question.text): \(reason) in \(Caption.text(for: scene))")
            }
            XCTAssert(question.kind.possibleAnswers.contains(question.answer), question.answer)
            XCTAssertLessThanOrEqual(question.answer.split(separator: " ").count, 2)
            XCTAssert(question.answer.allSatisfy { $0.isLowercase || $0 == " " }, question.answer)
        }
        XCTAssertEqual(Set(kinds.keys), Set(QuestionKind.allCases))
        // Kinds are uniform among the possible ones: each always-possible kind gets a sizeable share.
        for kind in [QuestionKind.count, .size, .position, .existence] {
            XCTAssertGreaterThan(kinds[kind]!, 5000 / 8, "\(kind)")
        }
    }

    func testPossibleKindsFollowTheScene() throws {
        for scene in sampleScenes(2000, seed: 8) {
            let possible = Set(QuestionGenerator.possibleKinds(for: scene))
            let shapeCounts = Dictionary(grouping: scene.objects, by: \.shape).mapValues(\.count)
            let colourCounts = Dictionary(grouping: scene.objects, by: \.colour).mapValues(\.count)
            XCTAssertEqual(possible.contains(.colour), shapeCounts.values.contains(1))
            XCTAssertEqual(possible.contains(.shape), colourCounts.values.contains(1))
            let acrossHalves = scene.objects.contains { a in scene.objects.contains { b in
                (a.col <= 1) != (b.col <= 1) || (a.row <= 1) != (b.row <= 1) } }
            XCTAssertEqual(possible.contains(.relation), acrossHalves)
            XCTAssert(possible.isSuperset(of: [.count, .size, .position, .existence]))
        }
    }

    func testYesNoKindsAreBalanced() throws {
        var random = WorldRandom(seed: 12)
        var generator = QuestionGenerator(random: &random)
        var answers: [QuestionKind: [String: Int]] = [:]
        var sharing = 0, absent = 0
        for scene in sampleScenes(3000, seed: 13) {
            for kind in [QuestionKind.existence, .relation] where QuestionGenerator.possibleKinds(for: scene).contains(kind) {
                let question = generator.question(kind, for: scene, random: &random)
                answers[kind, default: [:]][question.answer, default: 0] += 1
                if kind == .existence && question.answer == "no" {
                    absent += 1
                    let words = question.text.dropLast().split(separator: " ").map(String.init)
                    if scene.objects.contains(where: { $0.colour.rawValue == words[3] || $0.shape.rawValue == words[4] }) {
                        sharing += 1
                    }
                }
            }
        }
        for kind in [QuestionKind.existence, .relation] {
            let yes = answers[kind]?["yes"] ?? 0, no = answers[kind]?["no"] ?? 0
            XCTAssertGreaterThan(yes + no, 1000)
            XCTAssertLessThanOrEqual(abs(yes - no), 1, "\(kind): \(yes) yes, \(no) no")
        }
        XCTAssertEqual(Double(sharing) / Double(absent), 0.5, accuracy: 0.05, "absent pairs sharing a colour or shape")
    }

    func testRelationsUseOnlyDecidablePairs() {
        func object(_ shape: Shape, _ colour: Colour, _ row: Int, _ col: Int) -> WorldObject {
            WorldObject(shape: shape, colour: colour, size: .small, row: row, col: col,
                        centerX: 0, centerY: 0, radius: 4, rgb: [0, 0, 0])
        }
        // Same row: only left of / right of can be asked.
        let scene = Scene(objects: [object(.circle, .red, 1, 0), object(.square, .blue, 1, 3)], backgroundLevel: 220, noiseSeed: 0)
        var random = WorldRandom(seed: 1)
        var generator = QuestionGenerator(random: &random)
        for _ in 0..<200 {
            let question = generator.question(.relation, for: scene, random: &random)
            XCTAssertFalse(question.text.contains("above") || question.text.contains("below"), question.text)
            if case .failure(let reason) = AnswerOracle.answer(question.text, items: AnswerOracle.items(scene)) {
                XCTFail("\(question.text): \(reason)")
            }
        }
    }
}
