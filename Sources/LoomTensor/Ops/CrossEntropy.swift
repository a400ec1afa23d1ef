import CLoomKernels
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
    // Per row the max and log Σ exp(z − max), kept apart as PyTorch's log_softmax does
    // ((z − max) − log Σ): folded into one Float logsumexp, a rounding of about ulp(max) would move
    // every log-probability, so a prediction with p = 1 − 1e-6 would get a gradient p − 1 that is
    // mostly rounding error (and Adam turns such gradients into full-size updates).
    var maxima = [Float](repeating: 0, count: rows)
    var logTotals = [Float](repeating: 0, count: rows)
    var perRow = [Float](repeating: 0, count: rows)
    maxima.withUnsafeMutableBufferPointer { maxBuffer in
        logTotals.withUnsafeMutableBufferPointer { logBuffer in
            perRow.withUnsafeMutableBufferPointer { lossBuffer in
                let maxOut = maxBuffer.baseAddress!, logOut = logBuffer.baseAddress!, loss = lossBuffer.baseAddress!
                Threads.parallelFor(rows, grain: max(1, 16384 / max(classes, 1))) { range in
                    for r in range where labels[r] != ignoreIndex {
                        let row = zp + r * classes
                        let (maxValue, logTotal) = Kernels.shiftedLogSumExp(row, classes)
                        maxOut[r] = maxValue
                        logOut[r] = logTotal
                        // −log_softmax(z)[y] = log Σ − (z[y] − max)
                        loss[r] = logTotal - (row[labels[r]] - maxValue)
                    }
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
        maxima.withUnsafeBufferPointer { maxBuffer in
            logTotals.withUnsafeBufferPointer { logBuffer in
                let maxValues = maxBuffer.baseAddress!, logs = logBuffer.baseAddress!
                Threads.parallelFor(rows, grain: max(1, 16384 / max(classes, 1))) { range in
                    for r in range where labels[r] != ignoreIndex {
                        let row = sp + r * classes, out = gp + r * classes
                        let maxValue = maxValues[r], logTotal = logs[r]
                        // softmax = exp((z − max) − log Σ), PyTorch's exp(log_softmax)
                        loom_scaled_softmax_from_stats(row, out, classes, maxValue, logTotal, scale)
                        out[labels[r]] -= scale
                    }
                }
            }
        }
        return [grad]
    }
}

extension Kernels {
    /// (max, log Σ exp(x − max)) of one row (CLoomKernels); log Σ is 0 when the max is not finite.
    @inline(__always)
    static func shiftedLogSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Float, logTotal: Float) {
        var maxValue: Float = 0
        let logTotal = loom_shifted_log_sum_exp(x, n, &maxValue)
        return (maxValue, logTotal)
    }
}
