import CLoomKernels
import Foundation

/// LayerNorm and RMSNorm over the last dim, fused: per-row statistics with vectorised partial sums,
/// x̂ and 1/σ saved so that backward needs no recomputation.

/// LayerNorm: (x − mean) / √(var + eps) · weight + bias, with biased variance, as torch.nn.LayerNorm.
/// x [..., D], weight/bias [D] (either may be nil).
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    let d = x.shape.last ?? 1
    if let weight { precondition(weight.shape == [d], "layerNorm weight \(describe(weight.shape)) for input \(describe(x.shape))") }
    if let bias { precondition(bias.shape == [d], "layerNorm bias \(describe(bias.shape)) for input \(describe(x.shape))") }
    let rows = d == 0 ? 0 : x.count / d
    let xd = x.contiguousStorageView()
    defer { keepAlive(xd) }
    let out = Tensor(uninitialized: x.shape)
    let normalized = Tensor(uninitialized: x.shape)  // x̂, saved for backward
    var rstd = [Float](repeating: 0, count: rows)
    let xp = xd.pointer, op = out.pointer, np = normalized.pointer
    let wd = weight?.contiguousStorageView(), bd = bias?.contiguousStorageView()
    defer { keepAlive(wd, bd) }
    let wp = wd?.pointer, bp = bd?.pointer
    rstd.withUnsafeMutableBufferPointer { rs in
        let rsp = rs.baseAddress!
        Threads.parallelFor(rows, grain: max(1, 8192 / max(d, 1))) { range in
            let lo = range.lowerBound
            loom_layer_norm_forward(xp + lo * d, wp, bp, eps, range.count, d, op + lo * d, np + lo * d, rsp + lo)
        }
    }
    let w = weight?.detached()
    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return Tensor.record("layer_norm", out, inputs: inputs) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd, normalized) }
        let gp = gd.pointer, np = normalized.pointer
        var grads: [Tensor?] = []
        if x.needsGradient {
            // dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)), ĝ = g ⊙ weight
            let gx = Tensor(uninitialized: x.shape)
            let gxp = gx.pointer, wv = w?.pointer
            rstd.withUnsafeBufferPointer { rs in
                let rsp = rs.baseAddress!
                Threads.parallelFor(rows, grain: max(1, 8192 / max(d, 1))) { range in
                    for r in range {
                        var meanG: Float = 0, meanGX: Float = 0
                        for j in 0..<d {
                            let gh = gp[r * d + j] * (wv?[j] ?? 1)
                            meanG += gh
                            meanGX += gh * np[r * d + j]
                        }
                        meanG /= Float(d); meanGX /= Float(d)
                        for j in 0..<d {
                            let gh = gp[r * d + j] * (wv?[j] ?? 1)
                            gxp[r * d + j] = rsp[r] * (gh - meanG - np[r * d + j] * meanGX)
                        }
                    }
                }
            }
            grads.append(gx)
        } else {
            grads.append(nil)
        }
        if let weight { grads.append(weight.needsGradient ? Kernels.columnSums(gp, times: np, rows: rows, cols: d) : nil) }
        if let bias { grads.append(bias.needsGradient ? Kernels.columnSums(gp, times: nil, rows: rows, cols: d) : nil) }
        return grads
    }
}

/// RMSNorm as LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · weight. x [..., D], weight [D].
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) -> Tensor {
    let d = x.shape.last ?? 1
    precondition(weight.shape == [d], "rmsNorm weight \(describe(weight.shape)) for input \(describe(x.shape))")
    let rows = d == 0 ? 0 : x.count / d
    let xd = x.contiguousStorageView()
    defer { keepAlive(xd) }
    let out = Tensor(uninitialized: x.shape)
    let normalized = Tensor(uninitialized: x.shape)
    var rstd = [Float](repeating: 0, count: rows)
    let xp = xd.pointer, op = out.pointer, np = normalized.pointer
    let wd = weight.contiguousStorageView()
    defer { keepAlive(wd) }
    let wp = wd.pointer
    rstd.withUnsafeMutableBufferPointer { rs in
        let rsp = rs.baseAddress!
        Threads.parallelFor(rows, grain: max(1, 8192 / max(d, 1))) { range in
            loom_rms_norm_forward(xp + range.lowerBound * d, wp, eps, range.count, d, op + range.lowerBound * d,
                                  np + range.lowerBound * d, rsp + range.lowerBound)
        }
    }
    let w = weight.detached()
    return Tensor.record("rms_norm", out, inputs: [x, weight]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd, normalized) }
        let gp = gd.pointer, np = normalized.pointer
        var gx: Tensor?
        if x.needsGradient {
            // dx = rstd · (ĝ − x̂ · mean(ĝ ⊙ x̂)), ĝ = g ⊙ weight
            let grad = Tensor(uninitialized: x.shape)
            let dp = grad.pointer, wv = w.pointer
            rstd.withUnsafeBufferPointer { rs in
                let rsp = rs.baseAddress!
                Threads.parallelFor(rows, grain: max(1, 8192 / max(d, 1))) { range in
                    let lo = range.lowerBound
                    loom_rms_norm_backward(gp + lo * d, wv, np + lo * d, rsp + lo, range.count, d, dp + lo * d)
                }
            }
            gx = grad
        }
        let gw = weight.needsGradient ? Kernels.columnSums(gp, times: np, rows: rows, cols: d) : nil
        return [gx, gw]
    }
}

extension Kernels {
    /// Σ_rows a[r, c] (· b[r, c]) → [cols]: the weight and bias gradients of a norm.
    static func columnSums(_ a: UnsafePointer<Float>, times b: UnsafePointer<Float>?, rows: Int, cols: Int) -> Tensor {
        let out = Tensor(zeros: [cols])
        let op = out.pointer
        // Columns split across threads so that each output element has one writer.
        Threads.parallelFor(cols, grain: max(1, 65536 / max(rows, 1))) { range in
            for r in 0..<rows {
                let ar = a + r * cols
                if let b {
                    let br = b + r * cols
                    for c in range { op[c] += ar[c] * br[c] }
                } else {
                    for c in range { op[c] += ar[c] }
                }
            }
        }
        return out
    }
}
