import XCTest
@testable import LoomTensor

/// CTC against the definition itself: every one of the Vᵀ frame paths of a tiny problem enumerated,
/// collapsed (repeats merged, blanks dropped) and its probability added when it spells the labels.
final class CTCLossTests: XCTestCase {
    /// −log Σ_{paths → labels} Π_t p_t(path_t), in Double, for one sample's log-probabilities [T, V].
    func bruteForce(_ logProbs: [Float], frames: Int, classes: Int, labels: [Int], blank: Int) -> Double {
        var total = 0.0
        var path = [Int](repeating: 0, count: frames)
        let count = Int(pow(Double(classes), Double(frames)))
        for code in 0..<count {
            var c = code
            for f in 0..<frames { path[f] = c % classes; c /= classes }
            var collapsed: [Int] = [], previous = -1
            for k in path {
                if k != previous && k != blank { collapsed.append(k) }
                previous = k
            }
            guard collapsed == labels else { continue }
            var logP = 0.0
            for f in 0..<frames { logP += Double(logProbs[f * classes + path[f]]) }
            total += Foundation.exp(logP)
        }
        return -Foundation.log(total)
    }

    func testLossEqualsTheSumOverEveryPath() throws {
        // Repeated labels (forced blank between), a blank that is not class 0, unequal input lengths.
        let (b, t, v) = (4, 6, 4)
        let x = logSoftmax(randomTensor([b, t, v], seed: 41), axis: -1)
        let cases: [(labels: [Int], frames: Int, blank: Int)] = [([1, 2, 1], 6, 0), ([2, 2], 5, 0), ([0, 3], 6, 1), ([], 4, 0)]
        let values = x.scalars
        for (i, c) in cases.enumerated() {
            let one = Tensor(shape: [1, t, v], scalars: Array(values[(i * t * v)..<((i + 1) * t * v)]))
            let loss = try ctcLoss(logProbs: one, targets: [c.labels], inputLengths: [c.frames], blank: c.blank, reduction: .sum)
            let expected = bruteForce(Array(values[(i * t * v)..<((i + 1) * t * v)]), frames: c.frames, classes: v,
                                      labels: c.labels, blank: c.blank)
            XCTAssertEqual(Double(loss.item), expected, accuracy: 1e-5 * max(1, expected), "case \(i): \(c.labels)")
        }
    }

    func testMeanDividesByLabelCountThenBatch() throws {
        let x = logSoftmax(randomTensor([2, 5, 3], seed: 42), axis: -1)
        let labels = [[1, 2], [2]]
        let each = try (0..<2).map { i in
            try ctcLoss(logProbs: x.sliced(axis: 0, i..<(i + 1)).contiguous(), targets: [labels[i]], reduction: .sum).item
        }
        let mean = try ctcLoss(logProbs: x, targets: labels).item
        XCTAssertEqual(mean, (each[0] / 2 + each[1] / 1) / 2, accuracy: 1e-5)
    }

    func testGradientMatchesFiniteDifferencesThroughLogSoftmax() throws {
        let logits = randomTensor([3, 7, 5], seed: 43)
        let labels = [[1, 1, 3], [4, 2], [2]]
        checkGradients([logits], step: 1e-2, atol: 2e-3, rtol: 1e-2, "ctc ∘ log_softmax") { inputs in
            try! ctcLoss(logProbs: logSoftmax(inputs[0], axis: -1), targets: labels, inputLengths: [7, 6, 5]).reshaped([1])
        }
        // Through log_softmax the gradient per frame is softmax − γ, so each frame's row sums to 0.
        logits.requiresGradient = true
        logits.zeroGradient()
        try ctcLoss(logProbs: logSoftmax(logits, axis: -1), targets: labels).backward()
        let g = logits.grad!.scalars
        for row in 0..<(3 * 7) {
            XCTAssertEqual(g[(row * 5)..<((row + 1) * 5)].reduce(0, +), 0, accuracy: 1e-6, "row \(row)")
        }
    }

    func testImpossibleAlignmentIsInfiniteOrZeroed() throws {
        // Three labels with a repeat need 4 frames; 3 are given.
        let x = logSoftmax(randomTensor([2, 3, 3], seed: 44, requiresGradient: true), axis: -1)
        let labels = [[1, 1, 2], [2]]
        XCTAssertEqual(try ctcLoss(logProbs: x, targets: labels, reduction: .sum).item, .infinity)
        let zeroed = try ctcLoss(logProbs: x, targets: labels, reduction: .sum, zeroInfinity: true)
        let possible = try ctcLoss(logProbs: x.sliced(axis: 0, 1..<2).contiguous(), targets: [[2]], reduction: .sum)
        XCTAssertEqual(zeroed.item, possible.item, accuracy: 1e-6)
        XCTAssertTrue(zeroed.item.isFinite)
    }

    func testBadLabelsThrow() {
        let x = logSoftmax(randomTensor([1, 4, 3], seed: 45), axis: -1)
        XCTAssertThrowsError(try ctcLoss(logProbs: x, targets: [[0, 1]]), "a blank among the labels")
        XCTAssertThrowsError(try ctcLoss(logProbs: x, targets: [[3]]), "a label past the classes")
        XCTAssertThrowsError(try ctcLoss(logProbs: x, targets: [[1], [2]]), "two label sequences for one sample")
        XCTAssertThrowsError(try ctcLoss(logProbs: x, targets: [[1]], inputLengths: [5]), "more frames than T")
    }

    func testGreedyDecodingMergesRepeatsAndDropsBlanks() {
        // Frames' best classes: 1 1 0 1 2 2 0 → [1, 1, 2]
        let best = [1, 1, 0, 1, 2, 2, 0]
        var values = [Float](repeating: -5, count: best.count * 3)
        for (f, k) in best.enumerated() { values[f * 3 + k] = 0 }
        let x = Tensor(shape: [1, best.count, 3], scalars: values)
        XCTAssertEqual(ctcGreedyDecode(logProbs: x), [[1, 1, 2]])
        XCTAssertEqual(ctcGreedyDecode(logProbs: x, inputLengths: [3]), [[1]])
    }

    func testGreedySegmentsGiveEachLabelItsRunOfFrames() {
        // Frames' best classes: 1 1 0 1 2 2 0 → 1 on 0..<2, 1 on 3..<4 (a blank between: a new label), 2 on 4..<6
        let best = [1, 1, 0, 1, 2, 2, 0]
        var values = [Float](repeating: -5, count: best.count * 3)
        for (f, k) in best.enumerated() { values[f * 3 + k] = 0 }
        let x = Tensor(shape: [1, best.count, 3], scalars: values)
        XCTAssertEqual(ctcGreedySegments(scores: x), [[CTCSegment(label: 1, frames: 0..<2), CTCSegment(label: 1, frames: 3..<4),
                                                       CTCSegment(label: 2, frames: 4..<6)]])
        XCTAssertEqual(ctcGreedySegments(scores: x, inputLengths: [5]), [[CTCSegment(label: 1, frames: 0..<2), CTCSegment(label: 1, frames: 3..<4),
                                                                          CTCSegment(label: 2, frames: 4..<5)]])
    }
}
