import Foundation

public enum LossReduction: String, Codable, Sendable {
    /// Σ loss / number of non-ignored targets (NaN when every target is ignored, as PyTorch).
    case mean
    /// Σ loss (the trainer divides by the token count of the whole accumulated batch).
    case sum
}

/// Cross-entropy of `logits` [N, C] (or [..., C]) against `targets` (N ints), fused with log-softmax:
/// ℓᵢ = logsumexp(zᵢ) − zᵢ[yᵢ]; targets equal to `ignoreIndex` contribute nothing.
/// Throws when a target is neither in [0, C) nor the ignore index.
public func crossEntropy(logits: Tensor, targets: IntTensor, ignoreIndex: Int = -100,
                         reduction: LossReduction = .mean) throws -> Tensor {
    let classes = logits.shape.last ?? 1
    let rows = classes == 0 ? 0 : logits.count / classes
    guard targets.count == rows else {
        throw TensorError("cross-entropy: \(targets.count) targets for logits \(describe(logits.shape)) (\(rows) rows)")
    }
    if let bad = targets.scalars.firstIndex(where: { $0 != ignoreIndex && ($0 < 0 || $0 >= classes) }) {
        throw TensorError("cross-entropy: target \(targets.scalars[bad]) at position \(bad) is outside [0, \(classes)) and is not the ignore index \(ignoreIndex)")
    }
    let zd = logits.contiguousStorageView()
    defer { keepAlive(zd) }
    let zp = zd.pointer
    let labels = targets.scalars
    var logSumExp = [Float](repeating: 0, count: rows)
    var perRow = [Float](repeating: 0, count: rows)
    logSumExp.withUnsafeMutableBufferPointer { lseBuffer in
        perRow.withUnsafeMutableBufferPointer { lossBuffer in
            let lse = lseBuffer.baseAddress!, loss = lossBuffer.baseAddress!
            Threads.parallelFor(rows, grain: max(1, 16384 / max(classes, 1))) { range in
                for r in range where labels[r] != ignoreIndex {
                    let row = zp + r * classes
                    lse[r] = Kernels.logSumExp(row, classes)
                    loss[r] = lse[r] - row[labels[r]]
                }
            }
        }
    }
    let count = labels.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    // Summed in Double in row order: deterministic whatever the thread count.
    let total = perRow.reduce(0.0) { $0 + Double($1) }
    let divisor: Float = reduction == .mean ? Float(count) : 1
    let out = Tensor(scalar: reduction == .mean ? Float(total / Double(count)) : Float(total))
    let saved = zd.detached()
    return Tensor.record("cross_entropy", out, inputs: [logits]) { g in
        // d/dz = (softmax(z) − onehot(y)) · g / divisor on supervised rows, 0 elsewhere
        let scale = g.item / divisor
        let grad = Tensor(zeros: logits.shape)
        let gp = grad.pointer, sp = saved.pointer
        logSumExp.withUnsafeBufferPointer { lseBuffer in
            let lse = lseBuffer.baseAddress!
            Threads.parallelFor(rows, grain: max(1, 16384 / max(classes, 1))) { range in
                for r in range where labels[r] != ignoreIndex {
                    let row = sp + r * classes, out = gp + r * classes
                    let shift = lse[r]
                    Kernels.mapVectorized(row, out, count: classes) { Kernels.exp($0 - shift) * scale }
                    out[labels[r]] -= scale
                }
            }
        }
        return [grad]
    }
}

extension Kernels {
    /// log Σ exp(x) of one row, stably (max-shifted), vectorised.
    @inline(__always)
    static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var maxValue = -Float.infinity
        for i in 0..<n where x[i] > maxValue { maxValue = x[i] }
        if !maxValue.isFinite { return maxValue }
        var acc = FloatVector(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(x)
        while i + 16 <= n {
            acc += exp(raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self) - maxValue)
            i += 16
        }
        var total = acc.sum()
        while i < n { total += Foundation.exp(x[i] - maxValue); i += 1 }
        return maxValue + Foundation.log(total)
    }
}
