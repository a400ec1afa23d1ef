import XCTest
@testable import LoomTensor

/// Every differentiable op: analytic backward against central finite differences, on shapes whose
/// widths are not multiples of the SIMD width (16) and whose dims are all distinct.
final class GradientCheckTests: XCTestCase {
    func testBroadcastingArithmetic() {
        let a = randomTensor([3, 5, 7], seed: 1), b = randomTensor([5, 1], seed: 2), c = randomTensor([7], seed: 3)
        checkGradients([a, b], "add") { $0[0] + $0[1] }
        checkGradients([a, c], "subtract") { $0[0] - $0[1] }
        checkGradients([a, b], "multiply") { $0[0] * $0[1] }
        let positive = Tensor(shape: [5, 1], scalars: (0..<5).map { 1.5 + Float($0) * 0.3 })
        checkGradients([a, positive], "divide") { $0[0] / $0[1] }
        checkGradients([c, a], "broadcast on the left") { $0[0] * $0[1] + $0[0] }
        checkGradients([a], "scalars") { 2 - ($0[0] * 3 + 1) / 4 }
    }

    func testPointwiseFunctions() {
        let x = randomTensor([3, 5, 7], seed: 4)
        let positive = Tensor(shape: [3, 5, 7], scalars: (0..<105).map { 0.5 + Float($0 % 17) * 0.21 })
        checkGradients([x], "exp") { exp($0[0]) }
        checkGradients([positive], "log") { log($0[0]) }
        checkGradients([positive], "sqrt") { sqrt($0[0]) }
        checkGradients([x], "square") { square($0[0]) }
        checkGradients([x], "tanh") { tanh($0[0]) }
        checkGradients([x], "sigmoid") { sigmoid($0[0]) }
        checkGradients([x], "silu") { silu($0[0]) }
        checkGradients([x], "quick_gelu") { quickGELU($0[0]) }
        checkGradients([x], "gelu") { gelu($0[0]) }
        checkGradients([x], "gelu_tanh") { geluTanh($0[0]) }
        let awayFromKink = Tensor(shape: [19], scalars: (0..<19).map { Float($0) * 0.37 - 3.1 })
        checkGradients([awayFromKink], "relu") { relu($0[0]) }
    }

    func testReductions() {
        let x = randomTensor([3, 5, 7], seed: 5)
        checkGradients([x], "sum all") { sum($0[0]).reshaped([1]) }
        checkGradients([x], "sum axis 1") { sum($0[0], axis: 1) }
        checkGradients([x], "sum axes 0,2 keep") { sum($0[0], axes: [0, 2], keepDims: true) }
        checkGradients([x], "mean -1") { mean($0[0], axis: -1) }
        checkGradients([x], "max 1") { max($0[0], axis: 1) }
    }

    func testViews() {
        let x = randomTensor([3, 5, 7], seed: 6)
        checkGradients([x], "permute") { $0[0].permuted([2, 0, 1]) * 1.5 }
        checkGradients([x], "transpose+contiguous") { $0[0].transposed(0, 2).contiguous() }
        checkGradients([x], "reshape of a view") { $0[0].transposed().reshaped([15, 7]) }
        checkGradients([x], "slice") { $0[0].sliced(axis: 1, 1..<4) }
        checkGradients([x], "split") { parts in
            let pieces = parts[0].split([2, 4, 1], axis: 2)
            return pieces[0].sum(axisKeeping: 2) * pieces[1].sliced(axis: 2, 0..<1) + pieces[2]
        }
        checkGradients([x], "unsqueeze/squeeze/flatten") { $0[0].unsqueezed(1).squeezed(1).flattened(from: 1) }
    }

    func testMatmul() {
        let a = randomTensor([3, 5, 7], seed: 7), b = randomTensor([7, 6], seed: 8)
        checkGradients([a, b], "batched x shared") { matmul($0[0], $0[1]) }
        let c = randomTensor([3, 7, 4], seed: 9)
        checkGradients([a, c], "batched x batched") { matmul($0[0], $0[1]) }
        let d = randomTensor([1, 7, 4], seed: 10)
        checkGradients([a, d], "broadcast batch") { matmul($0[0], $0[1]) }
        let e = randomTensor([6, 7], seed: 11)
        checkGradients([a, e], "transposed view operand") { matmul($0[0], $0[1].transposed()) }
        let f = randomTensor([3, 7, 5], seed: 12)
        checkGradients([f, b], "transposed batched lhs") { matmul($0[0].transposed(), $0[1]) }
    }

    func testLinear() {
        let x = randomTensor([3, 5, 7], seed: 13), w = randomTensor([6, 7], seed: 14), b = randomTensor([6], seed: 15)
        checkGradients([x, w, b], "linear with bias") { linear($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients([x, w], "linear without bias") { linear($0[0], weight: $0[1]) }
        checkGradients([x, w], "linear on a transposed input") { linear($0[0].transposed(0, 1), weight: $0[1]) }
        // LoRA's fused up-projection: base + scale · x·Wᵀ.
        let base = randomTensor([3, 5, 6], seed: 16)
        checkGradients([base, x, w], "adding scaled linear") { addingScaledLinear($0[0], $0[1], weight: $0[2], scale: 0.75) }
        checkGradients([base, x, w], "adding scaled linear, transposed input") {
            addingScaledLinear($0[0].transposed(0, 1), $0[1].transposed(0, 1), weight: $0[2], scale: 2)
        }
        checkGradients([randomTensor([6], seed: 17), randomTensor([7], seed: 18), w], "adding scaled linear, one vector") {
            addingScaledLinear($0[0], $0[1], weight: $0[2], scale: -1.5)
        }
        assertClose(addingScaledLinear(base, x, weight: w, scale: 0.75), base + linear(x, weight: w) * 0.75, atol: 1e-5, "forward")
    }

    /// PEFT's lora.Linear as one op: gradients by finite differences, with the LoRA input the same
    /// tensor as x (the shared-buffer backward) and a different one (dropout), with and without bias.
    func testLoRALinear() {
        let x = randomTensor([3, 5, 7], seed: 40), u = randomTensor([3, 5, 7], seed: 41)
        let w = randomTensor([6, 7], seed: 42), b = randomTensor([6], seed: 43)
        let a = randomTensor([2, 7], seed: 44), up = randomTensor([6, 2], seed: 45)
        checkGradients([x, w, b, a, up], "lora linear, u = x") {
            loraLinear($0[0], weight: $0[1], bias: $0[2], loraInput: $0[0], loraA: $0[3], loraB: $0[4], scale: 0.75)
        }
        checkGradients([x, u, w, a, up], "lora linear, u ≠ x, no bias") {
            loraLinear($0[0], weight: $0[2], bias: nil, loraInput: $0[1], loraA: $0[3], loraB: $0[4], scale: -2)
        }
        checkGradients([x, w, a, up], "lora linear, transposed input") {
            let t = $0[0].transposed(0, 1)
            return loraLinear(t, weight: $0[1], bias: nil, loraInput: t, loraA: $0[2], loraB: $0[3], scale: 1.5)
        }
        checkGradients([randomTensor([7], seed: 46), w, b, a, up], "lora linear, one vector") {
            loraLinear($0[0], weight: $0[1], bias: $0[2], loraInput: $0[0], loraA: $0[3], loraB: $0[4], scale: 0.5)
        }
    }

    /// The one op gives the bits of the composed ops it replaces (linear, linear, addingScaledLinear),
    /// forward and every gradient, with u = x and with u ≠ x.
    func testLoRALinearIsBitEqualToTheComposedOps() {
        for sameInput in [true, false] {
            let x = randomTensor([4, 9, 33], seed: 50), u = randomTensor([4, 9, 33], seed: 51)
            let w = randomTensor([20, 33], seed: 52), b = randomTensor([20], seed: 53)
            let a = randomTensor([8, 33], seed: 54), up = randomTensor([20, 8], seed: 55)
            let probe = randomTensor([4, 9, 20], seed: 56)
            func run(_ f: (Tensor, Tensor) -> Tensor) -> [[UInt32]] {
                let inputs = [x, u, w, b, a, up]
                for t in inputs { t.requiresGradient = true; t.zeroGradient() }
                let out = f(x, sameInput ? x : u)
                sum(out * probe).backward()
                return [out.scalars] .map { $0.map(\.bitPattern) }
                    + inputs.compactMap { $0.grad?.scalars.map(\.bitPattern) }
            }
            let fused = run { loraLinear($0, weight: w, bias: b, loraInput: $1, loraA: a, loraB: up, scale: 0.5) }
            let composed = run { addingScaledLinear(linear($0, weight: w, bias: b), linear($1, weight: a), weight: up, scale: 0.5) }
            XCTAssertEqual(fused.count, composed.count)
            for (i, (f, c)) in zip(fused, composed).enumerated() {
                XCTAssert(f == c, "same input \(sameInput), result \(i): \(zip(f, c).filter { $0 != $1 }.count) values differ")
            }
        }
    }

    func testSoftmaxFamily() {
        let x = randomTensor([3, 5, 19], seed: 16)
        checkGradients([x], "softmax last") { softmax($0[0]) }
        checkGradients([x], "softmax middle") { softmax($0[0], axis: 1) }
        checkGradients([x], "log_softmax last") { logSoftmax($0[0]) }
        checkGradients([x], "log_softmax first") { logSoftmax($0[0], axis: 0) }
    }

    func testNorms() {
        let x = randomTensor([3, 5, 19], seed: 17), w = randomTensor([19], seed: 18), b = randomTensor([19], seed: 19)
        checkGradients([x, w, b], "layer_norm affine") { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients([x], "layer_norm plain") { layerNorm($0[0], weight: nil, bias: nil) }
        checkGradients([x, w], "rms_norm") { rmsNorm($0[0], weight: $0[1], eps: 1e-6) }
    }

    func testIndexing() throws {
        let table = randomTensor([11, 7], seed: 20)
        let ids = IntTensor(shape: [2, 3], scalars: [3, 0, 10, 3, 5, 2])
        checkGradients([table], "embedding") { try! embedding(ids, weight: $0[0]) }
        // nn.Embedding(padding_idx:) leaves the padding row without gradient; the other rows are unchanged.
        table.requiresGradient = true
        try sum(embedding(ids, weight: table, paddingIndex: 3) * randomTensor([2, 3, 7], seed: 99)).backward()
        let withPadding = table.grad!.scalars
        table.zeroGradient()
        try sum(embedding(ids, weight: table) * randomTensor([2, 3, 7], seed: 99)).backward()
        let plain = table.grad!.scalars
        table.requiresGradient = false
        for row in 0..<11 {
            for j in 0..<7 { XCTAssertEqual(withPadding[row * 7 + j], row == 3 ? 0 : plain[row * 7 + j]) }
        }
        checkGradients([table], "gather rows") { try! gatherRows($0[0], [4, 4, 0, 9]) }
        let base = randomTensor([9, 5], seed: 21), rows = randomTensor([3, 5], seed: 22)
        checkGradients([base, rows], "scatter rows") { try! scatteringRows($0[0], $0[1], at: [7, 1, 4]) }
        let a = randomTensor([3, 2, 7], seed: 23), c = randomTensor([3, 5, 7], seed: 24)
        checkGradients([a, c], "concat") { concat([$0[0], $0[1], $0[0]], axis: 1) }
    }

    func testConvolutions() {
        let x = randomTensor([2, 3, 13], seed: 25), w = randomTensor([5, 3, 3], seed: 26), b = randomTensor([5], seed: 27)
        checkGradients([x, w, b], "conv1d stride 1 pad 1") { conv1d($0[0], weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
        checkGradients([x, w, b], "conv1d stride 2 pad 1") { conv1d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1) }
        checkGradients([x, w], "conv1d stride 3 no pad") { conv1d($0[0], weight: $0[1], stride: 3) }
        let img = randomTensor([2, 3, 9, 7], seed: 28), pw = randomTensor([4, 3, 3, 3], seed: 29), pb = randomTensor([4], seed: 30)
        checkGradients([img, pw, pb], "patch embedding (edge cropped)") { patchEmbedding($0[0], weight: $0[1], bias: $0[2]) }
    }

    /// With the default query blocks and with causal blocks of 2 rows (several blocks per sequence).
    func testAttention() {
        for rows in [64, 2] {
            let saved = Attention.QueryBlocks.causalRows
            Attention.QueryBlocks.causalRows = rows
            defer { Attention.QueryBlocks.causalRows = saved }
            checkAttentionGradients()
        }
    }

    func checkAttentionGradients() {
        let q = randomTensor([2, 4, 5, 3], seed: 31), k = randomTensor([2, 2, 5, 3], seed: 32), v = randomTensor([2, 2, 5, 6], seed: 33)
        checkGradients([q, k, v], "GQA no mask") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2]) }
        checkGradients([q, k, v], "GQA causal") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: .causal) }
        let padding = AttentionMask(isCausal: true, keyPadding: [true, true, true, false, false, false, true, true, true, true])
        checkGradients([q, k, v], "causal + padding") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: padding) }
        let q2 = randomTensor([2, 4, 2, 3], seed: 34)
        checkGradients([q2, k, v], "Tq < Tk causal (cache)") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: .causal, scale: 0.7) }
        // Views as the models produce them: [B, T, H, D] transposed to [B, H, T, D].
        let qt = randomTensor([2, 5, 3, 4], seed: 35), kt = randomTensor([2, 5, 3, 4], seed: 36), vt = randomTensor([2, 5, 3, 4], seed: 37)
        checkGradients([qt, kt, vt], "transposed views, MHA") {
            scaledDotProductAttention(query: $0[0].transposed(1, 2), key: $0[1].transposed(1, 2), value: $0[2].transposed(1, 2), mask: .causal)
        }
    }

    func testRotaryEmbedding() {
        let x = randomTensor([2, 3, 5, 6], seed: 40)  // [B, T, H, D]
        let table = RotaryTable(headDim: 6, inverseFrequencies: RotaryTable.defaultInverseFrequencies(headDim: 6, base: 100))
        checkGradients([x], "shared positions") { applyRotaryEmbedding($0[0], table: table, positions: [4, 5, 6]) }
        checkGradients([x], "per-sample positions") { applyRotaryEmbedding($0[0], table: table, positions: [0, 1, 2, 7, 9, 11]) }
    }

    func testCrossEntropy() throws {
        let logits = randomTensor([6, 19], seed: 38)
        let targets = IntTensor([3, -100, 18, 0, -100, 7])
        checkGradients([logits], "mean") { try! crossEntropy(logits: $0[0], targets: targets).reshaped([1]) }
        checkGradients([logits], "sum") { try! crossEntropy(logits: $0[0], targets: targets, reduction: .sum).reshaped([1]) }
    }

    func testDropoutBackwardUsesTheForwardMask() {
        let x = randomTensor([3, 5, 7], seed: 39, requiresGradient: true)
        var generator = RandomGenerator(seed: 5)
        let y = dropout(x, probability: 0.3, generator: &generator)
        y.backward(seed: Tensor(repeating: 1, shape: y.shape))
        let xs = x.scalars, ys = y.scalars, gs = x.grad!.scalars
        for i in 0..<xs.count {
            let kept = ys[i] != 0
            XCTAssertEqual(gs[i], kept ? 1 / 0.7 : 0, accuracy: 1e-6)
            if kept { XCTAssertEqual(ys[i], xs[i] / 0.7, accuracy: 1e-5) }
        }
    }
}

private extension Tensor {
    func sum(axisKeeping axis: Int) -> Tensor { LoomTensor.sum(self, axis: axis, keepDims: true) }
}
