import Foundation
import XCTest
@testable import LoomTensor

/// Every fast path (BLAS, SIMD, threads, fusion) against its naive twin in Kernels.Reference.
final class KernelParityTests: XCTestCase {
    func testMatmulLayoutsAgreeWithTripleLoop() {
        let a = randomTensor([3, 5, 19], seed: 1), b = randomTensor([19, 17], seed: 2)
        assertClose(matmul(a, b), Kernels.Reference.matmul(a, b), "folded rows")
        let bt = randomTensor([17, 19], seed: 3).transposed()
        assertClose(matmul(a, bt), Kernels.Reference.matmul(a, bt), "transposed rhs view")
        let at = randomTensor([3, 19, 5], seed: 4).transposed()
        assertClose(matmul(at, b), Kernels.Reference.matmul(at, b), "transposed lhs view")
        let bb = randomTensor([1, 19, 6], seed: 5)
        assertClose(matmul(a, bb), Kernels.Reference.matmul(a, bb), "broadcast batch")
        let sliced = randomTensor([3, 9, 19], seed: 6).sliced(axis: 1, 2..<7)
        assertClose(matmul(sliced, b), Kernels.Reference.matmul(sliced, b), "sliced rows")
        let permuted = randomTensor([5, 3, 19], seed: 7).permuted([1, 0, 2])
        assertClose(matmul(permuted, b), Kernels.Reference.matmul(permuted, b), "permuted batch")
        let w = randomTensor([17, 19], seed: 8), bias = randomTensor([17], seed: 9)
        let expected = Kernels.Reference.binary(Kernels.Reference.matmul(a, w.transposed()), bias, .add)
        assertClose(linear(a, weight: w, bias: bias), expected, "linear")
    }

    func testBroadcastPathsAgree() {
        let cases: [([Int], [Int])] = [([3, 5, 19], [3, 5, 19]), ([3, 5, 19], [19]), ([19], [3, 5, 19]),
                                       ([3, 5, 19], [5, 1]), ([3, 1, 19], [1, 5, 1]), ([3, 5, 19], [1]), ([], [4])]
        for (sa, sb) in cases {
            let a = randomTensor(sa, seed: 10), b = randomTensor(sb, seed: 11)
            for op in [Kernels.BinaryOp.add, .subtract, .multiply, .divide] {
                assertClose(Kernels.binary(a, b, op), Kernels.Reference.binary(a, b, op), "\(op) \(sa) \(sb)")
            }
        }
        let big = randomTensor([70001], seed: 12), other = randomTensor([70001], seed: 13)
        assertClose(Kernels.binary(big, other, .multiply), Kernels.Reference.binary(big, other, .multiply), "threaded")
        let view = randomTensor([7, 19], seed: 14).transposed()
        assertClose(Kernels.binary(view, randomTensor([7], seed: 15), .add),
                    Kernels.Reference.binary(view, randomTensor([7], seed: 15), .add), "strided")
    }

    func testVectorExpAndTanhMatchLibm() {
        var values: [Float] = (0..<4000).map { Float($0) * 0.05 - 100 }
        values += [0, -0.0, 1e-8, -1e-8, 88.7, -87.3, -88, 89, .infinity, -.infinity]
        let x = Tensor(shape: [values.count], scalars: values)
        let e = exp(x).scalars, t = tanh(x).scalars
        for (i, v) in values.enumerated() {
            let ref = Foundation.exp(Double(v))
            if ref < Double(Float.leastNormalMagnitude) {  // subnormal results may flush to zero
                XCTAssertLessThanOrEqual(e[i], Float.leastNormalMagnitude, "exp(\(v))")
                continue
            }
            if ref > Double(Float.greatestFiniteMagnitude) { XCTAssertEqual(e[i], .infinity, "exp(\(v))"); continue }
            XCTAssertEqual(Double(e[i]), ref, accuracy: ref * 3e-7, "exp(\(v))")
            XCTAssertEqual(Double(t[i]), Foundation.tanh(Double(v)), accuracy: 2e-7 + 3e-7 * abs(Foundation.tanh(Double(v))), "tanh(\(v))")
        }
        XCTAssertTrue(exp(Tensor(shape: [1], scalars: [.nan])).item.isNaN)
    }

    /// The vector erf (exact GELU's) against erf in Double, in units in the last place of the Float
    /// result, over a dense grid through both of its pieces and their seam at |x| = 1.
    func testVectorErfIsWithinTwoUlpOfDouble() {
        var values: [Float] = (0..<120_001).map { Float($0) * 1e-4 - 6 }
        values += [0, -0.0, 1e-30, -1e-30, 1, -1, 1.0000001, 0.99999994, 4, 4.0000005, 100, .infinity, -.infinity]
        var worst: (ulps: Double, x: Float) = (0, 0)
        for start in stride(from: 0, to: values.count, by: 16) {
            var v = FloatVector(repeating: 0)
            let n = min(16, values.count - start)
            for j in 0..<n { v[j] = values[start + j] }
            let e = Kernels.erf(v)
            for j in 0..<n {
                let ref = Foundation.erf(Double(values[start + j]))
                let ulp = Double(Float(ref).ulp == 0 ? Float.leastNonzeroMagnitude : Float(ref).ulp)
                let ulps = abs(Double(e[j]) - ref) / ulp
                if ulps > worst.ulps { worst = (ulps, values[start + j]) }
            }
        }
        XCTAssertLessThanOrEqual(worst.ulps, 2, "erf(\(worst.x)) is \(worst.ulps) ulp off")
        print("vector erf: at most \(worst.ulps) ulp from Double (at x = \(worst.x))")
        XCTAssertTrue(Kernels.erf(FloatVector(repeating: .nan))[0].isNaN)
    }

    func testVectorisedActivationsAgree() {
        let x = Tensor(shape: [3, 1001], scalars: (0..<3003).map { Float($0) * 0.01 - 15 })
        let cases: [(String, (Tensor) -> Tensor)] = [("sigmoid", sigmoid), ("silu", silu), ("quick_gelu", quickGELU),
                                                     ("gelu", gelu), ("gelu_tanh", geluTanh), ("tanh", tanh), ("relu", relu)]
        for (name, f) in cases {
            assertClose(f(x), Kernels.Reference.activation(x, name), atol: 1e-6, rtol: 2e-6, name)
            let strided = x.transposed()  // non-contiguous input takes the copy path
            assertClose(f(strided), Kernels.Reference.activation(strided, name), atol: 1e-6, rtol: 2e-6, "\(name) strided")
        }
    }

    /// The fused SwiGLU gives the bits of `silu(gate) * up`, forward and both gradients, for dense and
    /// strided inputs and a length that leaves a tail of lanes; the composite path agrees with a naive
    /// Double reference; other activations take the composite path.
    func testFusedGatedActivationIsBitEqualToTheComposite() {
        for (shape, transpose) in [([3, 1001], false), ([37, 40], true)] {
            let gate = randomTensor(shape, seed: 21, scale: 4), up = randomTensor(shape, seed: 22)
            let probe = randomTensor(transpose ? [shape[1], shape[0]] : shape, seed: 23)
            func run(_ f: (Tensor, Tensor) -> Tensor) -> (out: [UInt32], dGate: [UInt32], dUp: [UInt32]) {
                for t in [gate, up] { t.requiresGradient = true; t.zeroGradient() }
                let (g, u) = transpose ? (gate.transposed(), up.transposed()) : (gate, up)
                let out = f(g, u)
                sum(out * probe).backward()
                return (out.scalars.map(\.bitPattern), gate.grad!.scalars.map(\.bitPattern), up.grad!.scalars.map(\.bitPattern))
            }
            let fused = run { gatedActivation(.silu, gate: $0, up: $1) }
            let composite = run { silu($0) * $1 }
            XCTAssert(fused.out == composite.out, "forward \(shape): \(zip(fused.out, composite.out).filter { $0 != $1 }.count) values differ")
            XCTAssert(fused.dGate == composite.dGate, "d gate \(shape): \(zip(fused.dGate, composite.dGate).filter { $0 != $1 }.count) values differ")
            XCTAssert(fused.dUp == composite.dUp, "d up \(shape): \(zip(fused.dUp, composite.dUp).filter { $0 != $1 }.count) values differ")
            let (g, u, p) = (gate.scalars.map(Double.init), up.scalars.map(Double.init), probe.scalars.map(Double.init))
            let count = g.count, columns = shape[1]
            // Element i of gate is element (i % columns, i / columns) of the transposed view, which probe weights.
            let weight = (0..<count).map { i in transpose ? p[(i % columns) * shape[0] + i / columns] : p[i] }
            for i in stride(from: 0, to: count, by: 7) {
                let s = 1 / (1 + Foundation.exp(-g[i]))
                XCTAssertEqual(Double(Float(bitPattern: fused.dUp[i])), weight[i] * g[i] * s, accuracy: 1e-5 * (1 + abs(weight[i] * g[i])))
                XCTAssertEqual(Double(Float(bitPattern: fused.dGate[i])), weight[i] * u[i] * s * (1 + g[i] * (1 - s)),
                               accuracy: 1e-5 * (1 + abs(weight[i] * u[i] * g[i])))
            }
        }
        let gate = randomTensor([5, 33], seed: 24), up = randomTensor([5, 33], seed: 25)
        XCTAssertEqual(gatedActivation(.gelu, gate: gate, up: up).scalars, (gelu(gate) * up).scalars)
    }

    func testSoftmaxAndNormsAgree() {
        for width in [1, 15, 16, 17, 33, 1000] {
            let x = randomTensor([3, 4, width], seed: UInt64(width), scale: 3)
            assertClose(softmax(x), Kernels.Reference.softmax(x), atol: 1e-6, rtol: 1e-5, "softmax width \(width)")
            assertClose(logSoftmax(x), Kernels.Reference.softmax(x, log: true), atol: 1e-5, rtol: 1e-5, "log_softmax \(width)")
            let w = randomTensor([width], seed: 2), b = randomTensor([width], seed: 3)
            assertClose(layerNorm(x, weight: w, bias: b, eps: 1e-5), Kernels.Reference.layerNorm(x, weight: w, bias: b, eps: 1e-5),
                        atol: 1e-5, rtol: 1e-4, "layer_norm \(width)")
            assertClose(rmsNorm(x, weight: w, eps: 1e-6), Kernels.Reference.rmsNorm(x, weight: w, eps: 1e-6),
                        atol: 1e-5, rtol: 1e-4, "rms_norm \(width)")
        }
    }

    /// Also with causal query blocks of 5 rows (the default is 64): blocks that skip the masked keys,
    /// a last short block, and blocks holding fully masked rows, which keep every key.
    func testFusedAttentionAgreesWithMaterialisedScores() {
        for rows in [64, 5] {
            let saved = Attention.QueryBlocks.causalRows
            Attention.QueryBlocks.causalRows = rows
            defer { Attention.QueryBlocks.causalRows = saved }
            checkFusedAttention(label: "blocks of \(rows)")
        }
    }

    func checkFusedAttention(label: String) {
        let masks: [(String, AttentionMask)] = [
            ("none", .none), ("causal", .causal),
            ("padding", AttentionMask(keyPadding: (0..<34).map { $0 % 17 < 13 })),
            ("causal+left padding, fully masked rows", AttentionMask(isCausal: true, keyPadding: (0..<34).map { $0 % 17 >= 5 })),
        ]
        for (name, mask) in masks {
            for (h, hkv) in [(6, 6), (6, 2), (6, 1)] {
                let q = randomTensor([2, h, 17, 10], seed: 40), k = randomTensor([2, hkv, 17, 10], seed: 41)
                let v = randomTensor([2, hkv, 17, 7], seed: 42)
                assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: mask),
                            Kernels.Reference.attention(query: q, key: k, value: v, mask: mask, scale: nil),
                            atol: 2e-6, rtol: 1e-5, "\(label): \(name) H=\(h) Hkv=\(hkv)")
            }
        }
        // A decode step against a cache, with transposed views.
        let q = randomTensor([1, 4, 3, 8], seed: 43).transposed(1, 2), k = randomTensor([1, 21, 3, 8], seed: 44).transposed(1, 2)
        let v = randomTensor([1, 21, 3, 8], seed: 45).transposed(1, 2)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: .causal, scale: 0.5),
                    Kernels.Reference.attention(query: q, key: k, value: v, mask: .causal, scale: 0.5), atol: 2e-6, "\(label): cache")
    }

    func testRotaryMatchesTheRotateHalfFormula() {
        // transformers: q·cos + rotate_half(q)·sin with emb = concat(freqs, freqs).
        let (b, t, h, d) = (2, 5, 3, 10)
        let x = randomTensor([b, t, h, d], seed: 52)
        let inv = RotaryTable.defaultInverseFrequencies(headDim: d, base: 10000)
        let out = applyRotaryEmbedding(x, table: RotaryTable(headDim: d, inverseFrequencies: inv), positions: Array(3..<(3 + t))).scalars
        let v = x.scalars
        for bi in 0..<b {
            for ti in 0..<t {
                for hi in 0..<h {
                    let base = ((bi * t + ti) * h + hi) * d
                    for i in 0..<d {
                        let angle = Double(inv[i % (d / 2)] * Float(3 + ti))
                        let rotated = i < d / 2 ? -Double(v[base + i + d / 2]) : Double(v[base + i - d / 2])
                        let expected = Double(v[base + i]) * Foundation.cos(angle) + rotated * Foundation.sin(angle)
                        XCTAssertEqual(Double(out[base + i]), expected, accuracy: 1e-5)
                    }
                }
            }
        }
    }

    func testCrossEntropyAgrees() throws {
        let logits = randomTensor([9, 1001], seed: 50, scale: 4)
        let targets = [5, -100, 1000, 0, 17, -100, 999, 3, 64]
        let loss = try crossEntropy(logits: logits, targets: IntTensor(targets))
        XCTAssertEqual(loss.item, Kernels.Reference.crossEntropy(logits: logits, targets: targets, ignoreIndex: -100), accuracy: 1e-5)
        let allIgnored = try crossEntropy(logits: logits, targets: IntTensor([Int](repeating: -100, count: 9)))
        XCTAssertTrue(allIgnored.item.isNaN, "mean over no targets is NaN, as in PyTorch")
    }

    /// A near-certain prediction with large logits: p − 1 ≈ −4e-5 is tiny next to ulp(max logit)
    /// ≈ 7.6e-6, so folding max and log Σ into one float32 logsumexp would be off by up to ~10%. Kept
    /// apart as PyTorch's log_softmax does, the error is about ulp(1) / |p − 1| (≈ 0.3%).
    func testCrossEntropyGradientOfAConfidentPredictionIsAccurate() throws {
        var values = [Float](repeating: 86, count: 50)
        values[7] = 100
        let logits = Tensor(shape: [1, 50], scalars: values)
        logits.requiresGradient = true
        try crossEntropy(logits: logits, targets: IntTensor([7])).backward()
        let expected = 1 / (1 + 49 * Foundation.exp(-14.0)) - 1  // p(target) − 1
        XCTAssertEqual(Double(logits.grad!.scalars[7]), expected, accuracy: 0.01 * abs(expected))
    }

    func testConvolutionsAgree() {
        let x = randomTensor([2, 5, 23], seed: 60), w = randomTensor([7, 5, 3], seed: 61), b = randomTensor([7], seed: 62)
        for (s, p) in [(1, 1), (2, 1), (1, 0), (3, 2)] {
            assertClose(conv1d(x, weight: w, bias: b, stride: s, padding: p),
                        Kernels.Reference.conv1d(x, weight: w, bias: b, stride: s, padding: p), atol: 1e-5, "conv1d s\(s) p\(p)")
        }
        let img = randomTensor([2, 3, 17, 15], seed: 63), pw = randomTensor([9, 3, 4, 4], seed: 64), pb = randomTensor([9], seed: 65)
        assertClose(patchEmbedding(img, weight: pw, bias: pb), Kernels.Reference.patchEmbedding(img, weight: pw, bias: pb),
                    atol: 1e-5, "patch embedding")
    }

    func testThreadCountDoesNotChangeResults() throws {
        let x = randomTensor([64, 300], seed: 70), w = randomTensor([300], seed: 71)
        let targets = IntTensor((0..<64).map { $0 * 4 })
        func run() throws -> [Float] {
            softmax(x).scalars + layerNorm(x, weight: w, bias: nil).scalars + sum(x, axis: 0).scalars
                + [try crossEntropy(logits: x, targets: targets).item]
        }
        let original = Threads.count
        Threads.setCount(1)
        let single = try run()
        Threads.setCount(max(2, original))
        let multi = try run()
        Threads.setCount(original)
        XCTAssertEqual(single, multi)
    }
}
