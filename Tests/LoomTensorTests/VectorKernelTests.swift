import CLoomKernels
import Foundation
import XCTest
@testable import LoomTensor

/// CLoomKernels (compiled for AVX-512, AVX2 and the baseline, picked at load time) against their
/// Swift twins: elementwise kernels bit for bit, reductions against Double.
final class VectorKernelTests: XCTestCase {
    /// Finite values across exp's whole range, its clamps, and the special values.
    let values: [Float] = (0..<2003).map { Float($0) * 0.1 - 100 }
        + [0, -0.0, 1e-30, -1e-30, 87.3, -87.3, 88.72283, 88.73, -87.33654, -87.34, 1e6, -1e6, .infinity, -.infinity, .nan]

    func swiftTwin(_ x: [Float], _ f: (FloatVector) -> FloatVector) -> [Float] {
        stride(from: 0, to: x.count, by: 16).flatMap { start -> [Float] in
            var v = FloatVector(repeating: 0)
            let n = min(16, x.count - start)
            for j in 0..<n { v[j] = x[start + j] }
            let r = f(v)
            return (0..<n).map { r[$0] }
        }
    }

    func assertSameBits(_ actual: [Float], _ expected: [Float], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        // A NaN's sign bit may depend on operand order inside the CPU; any NaN matches any NaN.
        let differing = zip(actual, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern && !($0.element.0.isNaN && $0.element.1.isNaN) }
        XCTAssert(differing.isEmpty, "\(name): \(differing.count) values differ, first at x = \(differing.first.map { values[$0.offset] } ?? 0)",
                  file: file, line: line)
    }

    func testElementwiseKernelsGiveTheBitsOfTheirSwiftTwins() {
        let x = values, y = values.reversed().map { $0 * 0.01 }, dy = values.map { $0.isFinite ? $0 * 0.1 + 1 : $0 }
        var out = [Float](repeating: 0, count: x.count), second = out
        loom_silu_gate_forward(x, y, &out, x.count)
        assertSameBits(out, zip(swiftTwin(x) { $0 * Kernels.sigmoid($0) }, y).map { $0 * $1 }, "silu gate")
        loom_silu_gate_backward(dy, x, y, &out, &second, x.count)
        let s = swiftTwin(x) { Kernels.sigmoid($0) }
        assertSameBits(out, (0..<x.count).map { i in dy[i] * y[i] * (s[i] * (1 + x[i] * (1 - s[i]))) }, "silu gate d gate")
        assertSameBits(second, (0..<x.count).map { i in dy[i] * (x[i] * s[i]) }, "silu gate d up")
        loom_quick_gelu_forward(x, &out, x.count)
        assertSameBits(out, swiftTwin(x) { $0 * Kernels.sigmoid(1.702 * $0) }, "quick_gelu")
        var shifted = x
        loom_exp_shifted_in_place(&shifted, x.count, 3.25)
        assertSameBits(shifted, swiftTwin(x) { Kernels.exp($0 - 3.25) }, "exp shifted")
        loom_scaled_softmax_from_stats(x, &out, x.count, 2.5, 1.25, 0.125)
        assertSameBits(out, swiftTwin(x) { Kernels.exp(($0 - 2.5) - 1.25) * 0.125 }, "scaled softmax from statistics")
    }

    /// The angles of the last positions are those computed for the last positions alone.
    func testRotaryAnglesSuffixIsTheAnglesOfTheLastPositions() {
        let table = RotaryTable(headDim: 8, inverseFrequencies: RotaryTable.defaultInverseFrequencies(headDim: 8, base: 10000))
        let all = RotaryAngles(table: table, positions: Array(3..<12))
        let tail = RotaryAngles(table: table, positions: Array(8..<12))
        XCTAssertEqual(all.suffix(4).cos, tail.cos)
        XCTAssertEqual(all.suffix(4).sin, tail.sin)
        XCTAssertEqual(all.suffix(4).count, 4)
        let x = randomTensor([2, 4, 3, 8], seed: 12)
        XCTAssertEqual(applyRotaryEmbedding(x, angles: all.suffix(4)).scalars, applyRotaryEmbedding(x, table: table, positions: Array(8..<12)).scalars)
    }

    /// Rotary rows against the plain loop: x'[i] = x[i]·cos − x[i+h]·sin, x'[i+h] = x[i+h]·cos + x[i]·sin.
    func testRotaryRowsGiveTheBitsOfThePlainLoop() {
        let heads = 3, half = 20
        var generator = RandomGenerator(seed: 5)
        let x = generator.normal(count: heads * 2 * half), angles = generator.normal(count: half).map { $0 * 3 }
        let c = angles.map { Foundation.cos($0) }, s = angles.map { Foundation.sin($0) }
        for inverse in [false, true] {
            var out = [Float](repeating: 0, count: x.count)
            loom_rotary(x, &out, c, s, heads, half, inverse ? 1 : 0)
            var expected = out
            for h in 0..<heads {
                for i in 0..<half {
                    let base = h * 2 * half, sn = inverse ? -s[i] : s[i]
                    let lo = x[base + i], hi = x[base + half + i]
                    expected[base + i] = lo * c[i] - hi * sn
                    expected[base + half + i] = hi * c[i] + lo * sn
                }
            }
            XCTAssertEqual(out.map(\.bitPattern), expected.map(\.bitPattern), "inverse \(inverse)")
        }
    }

    func testReductionsAndSoftmaxRowsAgreeWithDouble() {
        for count in [0, 1, 15, 16, 17, 31, 257, 1000] {
            var generator = RandomGenerator(seed: UInt64(count))
            let x = generator.normal(count: count).map { $0 * 4 }
            let exactSum = x.reduce(0.0) { $0 + Double($1) }
            var peak: Float = 0
            let logTotal = loom_shifted_log_sum_exp(x, count, &peak)
            XCTAssertEqual(peak, x.max() ?? -.infinity, "shifted max \(count)")
            if let m = x.max() {
                XCTAssertEqual(Double(logTotal), Foundation.log(x.reduce(0.0) { $0 + Foundation.exp(Double($1 - m)) }), accuracy: 1e-6, "log Σ \(count)")
            } else {
                XCTAssertEqual(logTotal, 0, "log Σ of nothing")
            }
            XCTAssertEqual(Double(loom_sum(x, count)), exactSum, accuracy: 1e-5 * (1 + x.reduce(0) { $0 + Double(abs($1)) }), "sum \(count)")
            XCTAssertEqual(loom_max(x, count), x.max() ?? -.infinity, "max \(count)")
            guard count > 0 else { continue }

            // Softmax with the first two keys masked to −inf, as attention's masked rows are.
            var row = x
            if count > 2 { row[0] = -.infinity; row[1] = -.infinity }
            let visible = row.filter { $0 > -.infinity }.map(Double.init)
            let m = visible.max()!, total = visible.reduce(0) { $0 + Foundation.exp($1 - m) }
            let expected = row.map { $0 == -.infinity ? 0 : Foundation.exp(Double($0) - m) / total }
            let lse = loom_softmax_in_place(&row, count)
            XCTAssertEqual(Double(lse), m + Foundation.log(total), accuracy: 1e-5 * (1 + abs(m)), "log-sum-exp \(count)")
            for (p, e) in zip(row, expected) { XCTAssertEqual(Double(p), e, accuracy: 1e-6 + 2e-6 * e, "softmax \(count)") }

            // dS = P ⊙ (dP − Σ P ⊙ dP)
            let dp = generator.normal(count: count)
            var ds = dp
            loom_softmax_backward_row(row, &ds, count)
            let dot = zip(row, dp).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            for i in 0..<count {
                XCTAssertEqual(Double(ds[i]), Double(row[i]) * (Double(dp[i]) - dot), accuracy: 1e-6, "softmax backward \(count)")
            }
        }
    }

    /// LayerNorm rows with each of weight and bias present or absent, widths with and without a tail
    /// of lanes, against Double; a row holding inf or NaN gives NaN as the Swift code did.
    func testLayerNormRowsAgreeWithDouble() {
        for d in [1, 7, 16, 33, 384] {
            let rows = 3
            var generator = RandomGenerator(seed: UInt64(100 + d))
            let x = generator.normal(count: rows * d).map { $0 * 3 + 1 }
            let w = generator.normal(count: d), b = generator.normal(count: d)
            for (useWeight, useBias) in [(true, true), (true, false), (false, true), (false, false)] {
                var out = [Float](repeating: 0, count: rows * d), normalized = out, rstd = [Float](repeating: 0, count: rows)
                w.withUnsafeBufferPointer { wp in
                    b.withUnsafeBufferPointer { bp in
                        loom_layer_norm_forward(x, useWeight ? wp.baseAddress : nil, useBias ? bp.baseAddress : nil, 1e-5, rows, d,
                                                &out, &normalized, &rstd)
                    }
                }
                for r in 0..<rows {
                    let xr = x[(r * d)..<((r + 1) * d)].map(Double.init)
                    let mean = xr.reduce(0, +) / Double(d)
                    let inv = 1 / (xr.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d) + 1e-5).squareRoot()
                    XCTAssertEqual(Double(rstd[r]), inv, accuracy: 1e-5 * inv, "rstd d \(d)")
                    for j in 0..<d {
                        let n = (xr[j] - mean) * inv
                        let expected = n * (useWeight ? Double(w[j]) : 1) + (useBias ? Double(b[j]) : 0)
                        XCTAssertEqual(Double(normalized[r * d + j]), n, accuracy: 1e-5 * (1 + abs(n)))
                        XCTAssertEqual(Double(out[r * d + j]), expected, accuracy: 1e-5 * (1 + abs(expected)),
                                       "d \(d) weight \(useWeight) bias \(useBias)")
                    }
                }
            }
        }
        for special in [Float.infinity, .nan] {
            var x = [Float](repeating: 1, count: 20)
            x[3] = special
            var out = x, normalized = x, rstd: [Float] = [0]
            loom_layer_norm_forward(x, nil, nil, 1e-5, 1, 20, &out, &normalized, &rstd)
            XCTAssert(out.allSatisfy(\.isNaN), "a row holding \(special)")
            loom_rms_norm_forward(x, [Float](repeating: 1, count: 20), 1e-6, 1, 20, &out, &normalized, &rstd)
            XCTAssert(out[3].isNaN && (special.isNaN ? out.allSatisfy(\.isNaN) : out[0] == 0), "rms row holding \(special)")
        }
    }

    func testRMSNormRowsAgreeWithDouble() {
        for d in [1, 16, 33, 512] {
            let rows = 3
            var generator = RandomGenerator(seed: UInt64(d))
            let x = generator.normal(count: rows * d).map { $0 * 2 }
            let w = generator.normal(count: d), g = generator.normal(count: rows * d)
            var out = [Float](repeating: 0, count: rows * d), normalized = out, dx = out, rstd = [Float](repeating: 0, count: rows)
            loom_rms_norm_forward(x, w, 1e-6, rows, d, &out, &normalized, &rstd)
            loom_rms_norm_backward(g, w, normalized, rstd, rows, d, &dx)
            for r in 0..<rows {
                let xr = x[(r * d)..<((r + 1) * d)].map(Double.init), gr = g[(r * d)..<((r + 1) * d)].map(Double.init)
                let inv = 1 / (xr.reduce(0) { $0 + $1 * $1 } / Double(d) + 1e-6).squareRoot()
                XCTAssertEqual(Double(rstd[r]), inv, accuracy: 1e-6 * inv)
                let dot = (0..<d).reduce(0.0) { $0 + gr[$1] * Double(w[$1]) * xr[$1] * inv } / Double(d)
                for j in 0..<d {
                    XCTAssertEqual(Double(out[r * d + j]), Double(w[j]) * xr[j] * inv, accuracy: 1e-5 * (1 + abs(Double(w[j]) * xr[j] * inv)))
                    let expected = inv * (gr[j] * Double(w[j]) - xr[j] * inv * dot)
                    XCTAssertEqual(Double(dx[r * d + j]), expected, accuracy: 1e-5 * (1 + abs(expected)), "rms backward d \(d)")
                }
            }
        }
    }
}

/// The ops whose kernels moved to CLoomKernels keep no reference to their own output: a forward pass
/// that never runs backward (an evaluation under gradient mode, a step that threw) frees its graph.
final class FusedOpLifetimeTests: XCTestCase {
    func testOutputsOfFusedOpsAreFreedWithoutBackward() {
        let cases: [(String, () -> Tensor)] = [
            ("silu_gate", { gatedActivation(.silu, gate: randomTensor([3, 40], seed: 1, requiresGradient: true), up: randomTensor([3, 40], seed: 2)) }),
            ("quick_gelu", { quickGELU(randomTensor([3, 40], seed: 3, requiresGradient: true)) }),
            ("rms_norm", { rmsNorm(randomTensor([3, 40], seed: 4, requiresGradient: true), weight: randomTensor([40], seed: 5)) }),
            ("layer_norm", { layerNorm(randomTensor([3, 40], seed: 6, requiresGradient: true), weight: randomTensor([40], seed: 7), bias: nil) }),
            ("rotary", { applyRotaryEmbedding(randomTensor([1, 5, 2, 8], seed: 8, requiresGradient: true),
                                              table: RotaryTable(headDim: 8, inverseFrequencies: [1, 0.1, 0.01, 0.001]), positions: Array(0..<5)) }),
            ("attention", { scaledDotProductAttention(query: randomTensor([1, 2, 5, 8], seed: 9, requiresGradient: true),
                                                      key: randomTensor([1, 2, 5, 8], seed: 10), value: randomTensor([1, 2, 5, 8], seed: 11), mask: .causal) }),
        ]
        for (name, make) in cases {
            weak var output: Tensor?
            do {
                let out = make()
                XCTAssert(out.isRecorded, name)
                output = out
            }
            XCTAssertNil(output, "\(name): the output outlives its last reference (a cycle through its backward closure)")
        }
    }
}

/// `loom bench train-step --profile`'s op table.
final class OpProfileTests: XCTestCase {
    func testRecordsEachOpForwardAndBackwardOnce() {
        OpProfile.reset()
        OpProfile.isEnabled = true
        defer { OpProfile.isEnabled = false; OpProfile.reset() }
        let x = randomTensor([4, 8], seed: 1, requiresGradient: true), w = randomTensor([3, 8], seed: 2, requiresGradient: true)
        OpProfile.mark()
        sum(rmsNorm(linear(x, weight: w), weight: Tensor(repeating: 1, shape: [3]))).backward()
        let calls = Dictionary(uniqueKeysWithValues: OpProfile.entries.map { ($0.name, $0.entry.calls) })
        for op in ["linear", "rms_norm", "sum"] {
            XCTAssertEqual(calls["forward " + op], 1, op)
            XCTAssertEqual(calls["backward " + op], 1, op)
        }
        XCTAssert(OpProfile.entries.allSatisfy { $0.entry.seconds >= 0 })
    }
}
