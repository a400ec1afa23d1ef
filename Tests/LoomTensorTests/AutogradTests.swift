import XCTest
@testable import LoomTensor

final class AutogradTests: XCTestCase {
    func testFrozenWeightGetsNoGradientAndNoWeightGEMM() {
        let x = randomTensor([4, 6], seed: 1)
        let adapter = randomTensor([5, 6], seed: 2, requiresGradient: true)   // trains
        let frozen = randomTensor([3, 5], seed: 3)                            // frozen layer above it
        let hidden = linear(x, weight: adapter)
        let out = linear(hidden, weight: frozen)
        let loss = sum(out * out)
        let before = BLAS.callCount
        loss.backward()
        // Frozen layer: dX only (1 GEMM). Adapter: dW only, its input x needs nothing (1 GEMM).
        XCTAssertEqual(BLAS.callCount - before, 2)
        XCTAssertNil(frozen.grad, "a frozen parameter has no gradient buffer")
        XCTAssertNotNil(adapter.grad, "gradients flow through the frozen layer to the adapter below")

        // The adapter's gradient equals the one computed with the top layer trainable.
        let reference = adapter.grad!.scalars
        adapter.zeroGradient()
        frozen.requiresGradient = true
        let loss2 = sum(linear(linear(x, weight: adapter), weight: frozen).square())
        loss2.backward()
        XCTAssertEqual(adapter.grad!.scalars, reference)
    }

    /// Gradient checkpointing: the recomputed block gives the same gradient bits as the recorded one,
    /// for its input and its parameters, and keeps none of its intermediates on the tape.
    func testRecomputedInBackwardGivesTheSameGradients() {
        let w1 = randomTensor([8, 6], seed: 21, requiresGradient: true), w2 = randomTensor([6, 8], seed: 22, requiresGradient: true)
        let below = randomTensor([6, 6], seed: 23, requiresGradient: true)
        let x = randomTensor([3, 5, 6], seed: 24)
        func block(_ h: Tensor) -> Tensor { h + linear(gelu(linear(h, weight: w1)), weight: w2) }
        var grads: [[[UInt32]]] = []
        for recompute in [false, true] {
            for p in [w1, w2, below] { p.zeroGradient() }
            let h = linear(x, weight: below)
            let out = recompute ? recomputedInBackward(h, parameters: [w1, w2], block) : block(h)
            if recompute { XCTAssertEqual(out.gradNode?.op, "recompute") }
            sum(block(out) * out).backward()
            grads.append([w1, w2, below].map { $0.grad!.scalars.map(\.bitPattern) })
        }
        XCTAssertEqual(grads[0], grads[1])
        // Nothing needs a gradient: plain forward, nothing recorded.
        for p in [w1, w2, below] { p.requiresGradient = false }
        XCTAssertNil(recomputedInBackward(x, parameters: [w1, w2], block).gradNode)
    }

    func testNoGradientScopeRecordsNothing() {
        let w = randomTensor([3, 3], seed: 4, requiresGradient: true)
        let y = withoutGradients { linear(randomTensor([2, 3], seed: 5), weight: w) }
        XCTAssertFalse(y.isRecorded)
        XCTAssertFalse(y.needsGradient)
        XCTAssertTrue(linear(randomTensor([2, 3], seed: 5), weight: w).isRecorded)
    }

    func testGradientsAccumulateAcrossMicroBatchesUntilZeroed() {
        let w = randomTensor([4], seed: 6, requiresGradient: true)
        let a = randomTensor([4], seed: 7), b = randomTensor([4], seed: 8)
        sum(w * a).backward()
        sum(w * b).backward()
        let expected = zip(a.scalars, b.scalars).map { $0 + $1 }
        for (g, e) in zip(w.grad!.scalars, expected) { XCTAssertEqual(g, e, accuracy: 1e-6) }
        w.zeroGradient()
        sum(w * a).backward()
        XCTAssertEqual(w.grad!.scalars, a.scalars)
    }

    func testSharedSubexpressionSumsBothPaths() {
        let x = randomTensor([5], seed: 9, requiresGradient: true)
        let y = exp(x)
        sum(y * y + y).backward()  // d/dx (e^2x + e^x) = 2e^2x + e^x
        for (g, v) in zip(x.grad!.scalars, x.scalars) {
            XCTAssertEqual(g, 2 * Foundation.exp(2 * v) + Foundation.exp(v), accuracy: 1e-4 * Foundation.exp(2 * abs(v)))
        }
    }

    func testGraphIsReleasedAfterBackwardUnlessRetained() {
        let w = randomTensor([3], seed: 10, requiresGradient: true)
        let loss = sum(w * w)
        loss.backward(retainGraph: true)
        loss.backward()
        for (g, v) in zip(w.grad!.scalars, w.scalars) { XCTAssertEqual(g, 4 * v, accuracy: 1e-5) }
        XCTAssertFalse(loss.isRecorded)
    }

    func testDataErrorsThrowWithTheOffendingValue() {
        let table = randomTensor([10, 4], seed: 11)
        XCTAssertThrowsError(try embedding(IntTensor([1, 10]), weight: table)) { error in
            XCTAssertTrue("\(error)".contains("10") && "\(error)".contains("vocabulary"), "\(error)")
        }
        XCTAssertThrowsError(try crossEntropy(logits: table, targets: IntTensor([Int](repeating: 3, count: 9) + [-5]))) { error in
            XCTAssertTrue("\(error)".contains("-5"), "\(error)")
        }
        XCTAssertThrowsError(try scatteringRows(table, randomTensor([2, 4], seed: 12), at: [3, 3]))
    }

    func testDropoutIsSeededAndThreadIndependent() {
        let x = Tensor(repeating: 1, shape: [50_000])
        var g1 = RandomGenerator(seed: 42), g2 = RandomGenerator(seed: 42)
        let a = dropout(x, probability: 0.25, generator: &g1).scalars
        Threads.setCount(1)
        let b = dropout(x, probability: 0.25, generator: &g2).scalars
        Threads.setCount(ProcessInfo.processInfo.activeProcessorCount)
        XCTAssertEqual(a, b)
        let keptFraction = Float(a.filter { $0 != 0 }.count) / Float(a.count)
        XCTAssertEqual(keptFraction, 0.75, accuracy: 0.01)
        XCTAssertEqual(g1.offset, 50_000)
        XCTAssertEqual(dropout(x, probability: 0.25, generator: &g1, isTraining: false).scalars, x.scalars)
    }
}

private extension Tensor {
    func square() -> Tensor { self * self }
}
