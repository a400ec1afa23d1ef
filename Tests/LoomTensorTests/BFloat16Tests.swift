import XCTest
@testable import LoomTensor

/// Weights kept in bfloat16 (`keepInBFloat16`): the rounding against a naive reference, and every op
/// that accepts such a weight against the same op on its rounded values held in Float32.
final class BFloat16Tests: XCTestCase {
    /// A caller that widens while another holds a buffer (a second shard) gets one of its own; both
    /// are kept and reused by later calls.
    func testWideningCallersAtOnceGetBuffersOfTheirOwnAndKeepThem() {
        let scratch = WideningScratch()
        var held: [UnsafeMutablePointer<Float>] = []
        scratch.with(count: 100) { outer in
            scratch.with(count: 100) { inner in
                XCTAssertNotEqual(outer, inner)
                held = [outer, inner]
            }
        }
        scratch.with(count: 50) { again in XCTAssertTrue(held.contains(again)) }
    }

    /// The bfloat16 nearest to `x`, found the slow way: of the two bfloat16 around x (truncation and
    /// the next one away from zero), the closer in Double; a tie goes to the even one.
    static func naiveBFloat16(_ x: Float) -> UInt16 {
        if x.isNaN { return UInt16(x.bitPattern >> 16) | 0x0040 }
        if x.isInfinite { return UInt16(x.bitPattern >> 16) }
        let truncated = UInt16(x.bitPattern >> 16)
        let next = truncated &+ 1  // one bfloat16 step further from zero (the max finite steps to inf)
        func value(_ h: UInt16) -> Double {  // the step past the largest finite is 2¹²⁸ (unbounded exponent)
            if h & 0x7FFF == 0x7F80 { return h & 0x8000 == 0 ? 0x1p128 : -0x1p128 }
            return Double(Float(bitPattern: UInt32(h) << 16))
        }
        let down = abs(Double(x) - value(truncated)), up = abs(value(next) - Double(x))
        if down < up { return truncated }
        if up < down { return next }
        return truncated & 1 == 0 ? truncated : next
    }

    /// Random floats of every magnitude, the ties, the top of the range, subnormals, zeros, inf, NaN.
    static func probeValues() -> [Float] {
        var generator = RandomGenerator(seed: 7)
        var values: [Float] = (0..<5000).map { _ in
            Float(bitPattern: UInt32(truncatingIfNeeded: generator.int(below: Int(UInt32.max))))
        }
        values += [0, -0, 1, -1, .infinity, -.infinity, .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                   .leastNonzeroMagnitude, .leastNormalMagnitude, Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000),
                   Float(bitPattern: 0x3F80_7FFF), Float(bitPattern: 0x7F7F_8000), Float(bitPattern: 0x0000_8000)]
        return values
    }

    func testRoundingIsNearestEvenAsTheNaiveReference() {
        let values = Self.probeValues()
        for x in values {
            XCTAssertEqual(Kernels.bfloat16Bits(x), Self.naiveBFloat16(x), "scalar rounding of \(x) (\(String(x.bitPattern, radix: 16)))")
        }
        // The storage path is vectorised and threaded: the same bits, tail included (count % 16 ≠ 0).
        let t = Tensor(shape: [values.count], scalars: values)
        t.keepInBFloat16()
        XCTAssertTrue(t.isBFloat16)
        let halves = UnsafeBufferPointer(start: t.storage.bfloat16!, count: values.count)
        for (i, x) in values.enumerated() where halves[i] != Self.naiveBFloat16(x) {
            XCTFail("element \(i): \(x) stored as \(String(halves[i], radix: 16)), expected \(String(Self.naiveBFloat16(x), radix: 16))")
            break
        }
        // Reads widen exactly; restoring gives the same values back as Float32.
        let widened = t.scalars
        for (i, x) in values.enumerated() {
            let expected = Float(bitPattern: UInt32(Self.naiveBFloat16(x)) << 16)
            XCTAssertTrue(widened[i].bitPattern == expected.bitPattern || (widened[i].isNaN && expected.isNaN), "read of element \(i)")
        }
        t.storage.restoreFloat32()
        XCTAssertFalse(t.isBFloat16)
        XCTAssertEqual(t.scalars.map(\.bitPattern), widened.map(\.bitPattern))
    }

    /// A copy of `x` with its values rounded to bfloat16 but stored in Float32.
    func roundedCopy(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape, scalars: x.scalars.map { Float(bitPattern: UInt32(Kernels.bfloat16Bits($0)) << 16) })
    }

    func testLinearWithABFloat16WeightIsTheLinearOfTheRoundedWeight() {
        // The last weight spans several widened blocks each way.
        let blockElements = Kernels.widenedBlockElements
        Kernels.widenedBlockElements = 1 << 20
        defer { Kernels.widenedBlockElements = blockElements }
        for (rows, out, inFeatures, bias) in [(7, 19, 24, true), (1, 19, 24, false), (33, 19, 24, true), (9, 600, 4000, true)] {
            let weight = randomTensor([out, inFeatures], seed: 1)
            let rounded = roundedCopy(weight)
            let b = bias ? randomTensor([out], seed: 2) : nil
            weight.keepInBFloat16()
            let x1 = randomTensor([rows, inFeatures], seed: 3, requiresGradient: true)
            let x2 = randomTensor([rows, inFeatures], seed: 3, requiresGradient: true)
            let upstream = randomTensor([rows, out], seed: 4)
            let y1 = linear(x1, weight: weight, bias: b)
            let y2 = linear(x2, weight: rounded, bias: b)
            XCTAssertEqual(y1.scalars.map(\.bitPattern), y2.scalars.map(\.bitPattern), "forward, \(rows) rows")
            sum(y1 * upstream).backward()
            sum(y2 * upstream).backward()
            XCTAssertEqual(x1.grad!.scalars.map(\.bitPattern), x2.grad!.scalars.map(\.bitPattern), "dX, \(rows) rows")
            XCTAssertNil(weight.grad)
            XCTAssertTrue(weight.isBFloat16, "the weight stays in bfloat16 through forward and backward")
        }
    }

    func testEmbeddingMatmulAndArithmeticAcceptABFloat16Table() throws {
        let table = randomTensor([11, 6], seed: 5)
        let rounded = roundedCopy(table)
        table.keepInBFloat16()
        let ids = IntTensor(shape: [2, 3], scalars: [4, 0, 10, 10, 3, 4])
        XCTAssertEqual(try embedding(ids, weight: table).scalars, try embedding(ids, weight: rounded).scalars)
        let x = randomTensor([3, 11], seed: 6)
        XCTAssertEqual(matmul(x, table).scalars, matmul(x, rounded).scalars)
        XCTAssertEqual(matmul(table.transposed(0, 1), x.transposed(0, 1)).scalars,
                       matmul(rounded.transposed(0, 1), x.transposed(0, 1)).scalars, "a transposed view of the table")
        XCTAssertEqual(linear(x, weight: table.transposed(0, 1)).scalars, linear(x, weight: rounded.transposed(0, 1)).scalars,
                       "linear with a view of a bfloat16 weight that is not contiguous")
        let y = randomTensor([11, 6], seed: 8)
        XCTAssertEqual((y + table).scalars, (y + rounded).scalars)
        XCTAssertEqual(table[3, 2], rounded[3, 2])
    }

    func testMakingAWeightTrainableWidensItBack() {
        let weight = randomTensor([5, 4], seed: 9)
        let rounded = roundedCopy(weight)
        weight.keepInBFloat16()
        weight.requiresGradient = true
        XCTAssertFalse(weight.isBFloat16)
        XCTAssertEqual(weight.scalars, rounded.scalars)
        weight.withUnsafeMutableBufferPointer { $0[0] = 42 }  // writable again
        XCTAssertEqual(weight[0, 0], 42)
    }
}
