/// Softmax and log-softmax along an axis. The last axis takes the fused row kernel (one pass for the
/// max, one for exp-and-sum, one to scale); other axes are moved last first.

extension Kernels {
    /// Row-wise softmax of dense [rows, n] data, vectorised, rows split across threads.
    /// With `log`, writes log-softmax instead.
    static func softmaxRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: Int, n: Int, log: Bool) {
        Threads.parallelFor(rows, grain: max(1, 4096 / max(n, 1))) { range in
            for r in range { softmaxRow(src + r * n, dst + r * n, n, log: log) }
        }
    }

    @inline(__always)
    static func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
        var maxValue = maxContiguous(x, n)
        if maxValue == -.infinity { maxValue = 0 }  // all −inf: produce NaN below as PyTorch does
        var total: Float = 0
        var i = 0
        let raw = UnsafeRawPointer(x)
        var acc = FloatVector(repeating: 0)
        while i + 16 <= n {
            let e = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self) - maxValue)
            if !log { UnsafeMutableRawPointer(y).storeBytes(of: e, toByteOffset: i * 4, as: FloatVector.self) }
            acc += e
            i += 16
        }
        total = acc.sum()
        if i < n {
            var v = FloatVector(repeating: -.infinity)
            for j in 0..<(n - i) { v[j] = x[i + j] - maxValue }
            let e = exp(v)
            for j in 0..<(n - i) {
                if !log { y[i + j] = e[j] }
                total += e[j]
            }
        }
        if log {
            let shift = maxValue + Foundation.log(total)
            for j in 0..<n { y[j] = x[j] - shift }
        } else {
            let inv = 1 / total
            for j in 0..<n { y[j] *= inv }
        }
    }
}

import Foundation

/// softmax(x) along `axis`: exp(x − max) / Σ exp(x − max).
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    softmaxFamily(x, axis: axis, log: false)
}

/// log-softmax along `axis`: x − logsumexp(x).
public func logSoftmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    softmaxFamily(x, axis: axis, log: true)
}

private func softmaxFamily(_ x: Tensor, axis: Int, log: Bool) -> Tensor {
    let ax = x.axis(axis)
    if ax != x.rank - 1 {  // move the axis last, compute, move back
        return softmaxFamily(x.transposed(ax, -1), axis: -1, log: log).transposed(ax, -1)
    }
    let n = x.rank == 0 ? 1 : x.shape[ax]
    let dense = x.contiguousStorageView()
    defer { keepAlive(dense) }
    let out = Tensor(uninitialized: x.shape)
    let rows = n == 0 ? 0 : x.count / n
    Kernels.softmaxRows(dense.pointer, out.pointer, rows: rows, n: n, log: log)
    let y = out.detached()
    return Tensor.record(log ? "log_softmax" : "softmax", out, inputs: [x]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        let grad = Tensor(uninitialized: x.shape)
        let gp = gd.pointer, yp = y.pointer, dp = grad.pointer
        Threads.parallelFor(rows, grain: max(1, 4096 / max(n, 1))) { range in
            for r in range {
                let base = r * n
                if log {  // dx = g − softmax · Σg
                    var total: Float = 0
                    for j in 0..<n { total += gp[base + j] }
                    for j in 0..<n { dp[base + j] = gp[base + j] - Foundation.exp(yp[base + j]) * total }
                } else {  // dx = y ⊙ (g − Σ g·y)
                    var dot: Float = 0
                    for j in 0..<n { dot += gp[base + j] * yp[base + j] }
                    for j in 0..<n { dp[base + j] = yp[base + j] * (gp[base + j] - dot) }
                }
            }
        }
        return [grad]
    }
}
