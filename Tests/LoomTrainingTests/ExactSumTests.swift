import XCTest
import LoomTensor
@testable import LoomTraining

/// `ExactSum`: order- and grouping-independent sums (what makes `reproducible_gradients` bit-equal
/// across rank counts), checked against sums that Double computes exactly.
final class ExactSumTests: XCTestCase {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Sums `terms` (rows of `width` values) into one ExactSum per group and adds the groups' limbs, as
    /// an integer all-reduce over ranks does.
    func sum(_ terms: [[Float]], groups: [[Int]], width: Int) -> [Float] {
        var total = [Int64](repeating: 0, count: ExactSum(count: width).storage.count)
        for group in groups {
            var partial = ExactSum(count: width)
            for index in group { terms[index].withUnsafeBufferPointer { partial.add($0) } }
            for (k, limb) in partial.storage.enumerated() { total[k] &+= limb }
        }
        var merged = ExactSum(count: width)
        merged.withUnsafeMutableStorage { _ = $0.update(fromContentsOf: total) }
        var out = [Float](repeating: 0, count: width)
        out.withUnsafeMutableBufferPointer { merged.values(into: $0) }
        return out
    }

    /// Terms spanning 2⁻⁹⁹ … 2⁴⁰ with both signs: every order and every split into groups gives the
    /// same bits.
    func testOrderAndGroupingDoNotChangeTheBits() {
        var random = Generator(state: 7)
        let width = 64, count = 40
        let terms: [[Float]] = (0..<count).map { _ in
            (0..<width).map { _ in
                let magnitude = Float(sign: .plus, exponent: random.below(140) - 99, significand: 1 + Float(random.below(1 << 20)) / Float(1 << 20))
                return random.below(2) == 0 ? magnitude : -magnitude
            }
        }
        let reference = sum(terms, groups: [Array(0..<count)], width: width)
        for trial in 0..<20 {
            var order = Array(0..<count)
            for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, random.below(i + 1)) }
            // Split the shuffled order into 1 to 5 groups of random sizes ("ranks").
            var groups: [[Int]] = [], rest = order[...]
            while !rest.isEmpty {
                let take = groups.count == 4 ? rest.count : 1 + random.below(rest.count)
                groups.append(Array(rest.prefix(take))); rest = rest.dropFirst(take)
            }
            let result = sum(terms, groups: groups, width: width)
            XCTAssertEqual(result.map(\.bitPattern), reference.map(\.bitPattern), "trial \(trial): \(groups.count) groups")
        }
    }

    /// Integers times 2⁻²⁰ sum exactly in Double: the rounded exact sum must equal Float(that sum),
    /// the correctly rounded result, for sums where Float accumulation is visibly off.
    func testMatchesTheCorrectlyRoundedSum() {
        var random = Generator(state: 11)
        let width = 256, count = 1000
        let terms: [[Float]] = (0..<count).map { _ in
            (0..<width).map { _ in Float(random.below(1 << 24) - (1 << 23)) * 0x1p-20 }
        }
        let result = sum(terms, groups: [Array(0..<count)], width: width)
        var floatDiffers = 0
        for j in 0..<width {
            var exact = 0.0, naive: Float = 0
            for i in 0..<count { exact += Double(terms[i][j]); naive += terms[i][j] }
            XCTAssertEqual(result[j], Float(exact), "element \(j)")
            if naive != Float(exact) { floatDiffers += 1 }
        }
        XCTAssertGreaterThan(floatDiffers, width / 2, "the test should exercise sums that Float accumulation rounds")
    }

    /// Cancellation that defeats Float and Double alike: 1e15 + 3e-20 − 1e15 is 3e-20.
    func testCancellationKeepsTheSmallTerm() {
        let big: Float = 1e15, small: Float = 3e-20
        XCTAssertEqual(sum([[big], [small], [-big]], groups: [[0, 1, 2]], width: 1), [small])
        XCTAssertEqual(sum([[-big], [-small], [big]], groups: [[0], [1, 2]], width: 1), [-small])
        // Carries and borrows through every limb.
        let tiny = Float(sign: .plus, exponent: -100, significand: 1)
        XCTAssertEqual(sum([[-tiny]], groups: [[0]], width: 1), [-tiny])
        XCTAssertEqual(sum([[Float(sign: .plus, exponent: 50, significand: 1)], [-tiny], [Float(sign: .minus, exponent: 50, significand: 1)]], groups: [[0, 1, 2]], width: 1), [-tiny])
    }

    /// Below the resolution terms truncate toward zero; infinities, NaNs and terms of 2⁵¹ or more are
    /// counted and make the whole sum non-finite.
    func testRangeLimits() {
        var below = ExactSum(count: 2)
        [Float(sign: .plus, exponent: -101, significand: 1), -Float.leastNonzeroMagnitude].withUnsafeBufferPointer { below.add($0) }
        XCTAssertTrue(below.isFinite)
        XCTAssertEqual(below.value(at: 0), 0)
        XCTAssertEqual(below.value(at: 1), 0)
        XCTAssertEqual(sum([[Float(sign: .plus, exponent: 50, significand: 1.5)]], groups: [[0]], width: 1), [0x1.8p50])
        for bad: Float in [.infinity, -.infinity, .nan, 0x1p51, -0x1p60] {
            var sum = ExactSum(count: 3)
            [1, bad, 2].withUnsafeBufferPointer { sum.add($0) }
            XCTAssertFalse(sum.isFinite, "\(bad)")
            XCTAssertEqual(sum.outOfRange, 1)
            XCTAssertTrue(sum.value(at: 0).isNaN)
            sum.clear()
            XCTAssertTrue(sum.isFinite)
            XCTAssertEqual(sum.value(at: 0), 0)
        }
    }

    /// ExactGradients in one process: the gradients of several "samples" are summed, a parameter
    /// without a gradient keeps none, and the next step starts from zero.
    func testExactGradientsSumSamplesAndLeaveUntouchedParametersAlone() throws {
        let used = Tensor(zeros: [3]), unused = Tensor(zeros: [2])
        var exact = ExactGradients(communicator: SingleProcess())
        for sample in [[1, 2, 3], [0.5, -2, 1e-3]] as [[Float]] {
            used.grad = Tensor(shape: [3], scalars: sample)
            exact.collect([used, unused])
            XCTAssertNil(used.grad)
        }
        XCTAssertTrue(try exact.reduce([used, unused]))
        XCTAssertEqual(used.grad?.scalars, [1.5, 0, 3.001])
        XCTAssertNil(unused.grad)
        used.grad = Tensor(shape: [3], scalars: [1, 1, .infinity])
        exact.collect([used, unused])
        XCTAssertFalse(try exact.reduce([used, unused]))
        used.grad = Tensor(shape: [3], scalars: [4, 5, 6])
        exact.collect([used, unused])
        XCTAssertTrue(try exact.reduce([used, unused]))
        XCTAssertEqual(used.grad?.scalars, [4, 5, 6])
    }
}
