import LoomDemo
import XCTest

final class DemoScoringTests: XCTestCase {
    typealias D = DemoScoring.Described

    func testCaptionsParseIntoObjects() {
        let caption = "a large red circle at the top left, a small blue square at the bottom right and a small green triangle at the top right."
        XCTAssertEqual(DemoScoring.objects(inCaption: caption), [
            D(size: "large", colour: "red", shape: "circle", position: "top left"),
            D(size: "small", colour: "blue", shape: "square", position: "bottom right"),
            D(size: "small", colour: "green", shape: "triangle", position: "top right"),
        ])
        XCTAssertEqual(DemoScoring.objects(inCaption: "a small black diamond at the bottom left."),
                       [D(size: "small", colour: "black", shape: "diamond", position: "bottom left")])
        // Broken phrases are skipped, not half-read.
        XCTAssertEqual(DemoScoring.objects(inCaption: "a large red circle at"), [])
        XCTAssertEqual(DemoScoring.objects(inCaption: "blue blue blue square"), [])
    }

    func testAttributeAccuracy() {
        let truth = [D(size: "large", colour: "red", shape: "circle", position: "top left"),
                     D(size: "small", colour: "blue", shape: "square", position: "bottom right")]
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: truth, truth: truth), 1)
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: truth.reversed(), truth: truth), 1)  // order-free
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: [], truth: truth), 0)
        // One of two objects described: half of every attribute.
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: [truth[0]], truth: truth), 0.5, accuracy: 1e-12)
        // Right colours and shapes, sizes and positions swapped between the two objects: still
        // right as multisets (the score is per attribute, not per object).
        let swapped = [D(size: "small", colour: "red", shape: "circle", position: "bottom right"),
                       D(size: "large", colour: "blue", shape: "square", position: "top left")]
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: swapped, truth: truth), 1)
        // Wrong colour on one object: colour scores 1/2, the rest 1 → 7/8.
        let wrong = [truth[0], D(size: "small", colour: "green", shape: "square", position: "bottom right")]
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: wrong, truth: truth), 7.0 / 8, accuracy: 1e-12)
        // An extra invented object costs: 2 of 3 for every attribute.
        let extra = truth + [D(size: "small", colour: "black", shape: "diamond", position: "top right")]
        XCTAssertEqual(DemoScoring.attributeAccuracy(predicted: extra, truth: truth), 2.0 / 3, accuracy: 1e-12)
    }

    func testAnswersCompareNormalized() {
        XCTAssertEqual(DemoScoring.normalized(" Top  Left. "), "top left")
        XCTAssertNotEqual(DemoScoring.normalized("top right"), DemoScoring.normalized("top left"))
    }

    func testWordAccuracyIsOneMinusWER() {
        XCTAssertEqual(DemoScoring.wordAccuracy("where is the red circle?", "where is the red circle?"), 1)
        XCTAssertEqual(DemoScoring.wordAccuracy("where is the blue circle", "where is the red circle?"), 0.8, accuracy: 1e-12)
        XCTAssertEqual(DemoScoring.wordAccuracy("where is red circle", "where is the red circle"), 0.8, accuracy: 1e-12)
        XCTAssertEqual(DemoScoring.wordAccuracy("", "how many shapes are there"), 0)
        XCTAssertEqual(DemoScoring.wordAccuracy("a b c d e f g h i j k", "yes"), 0)  // floored at 0
    }

    func testAccuracyByKindCountsEachKindOnItsOwn() {
        let answers: [(kind: String, correct: Bool)] = [("colour", true), ("count", true), ("colour", false),
                                                        ("colour", true), ("existence", false)]
        XCTAssertEqual(DemoScoring.accuracyByKind(answers), ["colour": 2.0 / 3, "count": 1, "existence": 0])
        XCTAssertEqual(DemoScoring.accuracyByKind([]), [:])
    }
}
