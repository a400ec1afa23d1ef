import XCTest
@testable import LoomTensor

/// Products of views that drop leading rows of each batch item (LLaVA's CLS-free features): the
/// batch items are not evenly strided rows of one matrix, so they must not fold into one GEMM.
final class SlicedViewMatmulTests: XCTestCase {
    func testLinearOfARowSlicedBatchEqualsItsContiguousCopy() {
        var rng = RandomGenerator(seed: 5)
        let states = Tensor.randomNormal([3, 5, 4], generator: &rng)          // [B, 1 + P, D]
        let view = states.sliced(axis: 1, 1..<5)                                // [B, P, D], not foldable
        let weight = Tensor.randomNormal([6, 4], generator: &rng)
        let bias = Tensor.randomNormal([6], generator: &rng)
        let expected = linear(view.contiguous(), weight: weight, bias: bias).scalars
        let actual = linear(view, weight: weight, bias: bias).scalars
        XCTAssertEqual(actual.count, expected.count)
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-5) }
        let other = Tensor.randomNormal([4, 2], generator: &rng)
        let m = matmul(view, other).scalars, mc = matmul(view.contiguous(), other).scalars
        for (a, e) in zip(m, mc) { XCTAssertEqual(a, e, accuracy: 1e-5) }
    }
}
