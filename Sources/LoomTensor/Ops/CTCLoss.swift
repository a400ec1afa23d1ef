import Foundation

/// Connectionist temporal classification (Graves et al., 2006): −log p(y | x), where p sums over
/// every frame-level path that collapses to the label sequence y (merge repeats, then drop blanks).
/// `logProbs` [B, T, V] are per-frame log-probabilities (a `logSoftmax` output); `targets[b]` holds
/// sample b's labels, none of them `blank`; `inputLengths[b]` ≤ T frames of sample b count (all T
/// when nil). Reductions follow PyTorch's `ctc_loss`: `.mean` divides each sample's loss by its label
/// count (at least 1) and averages over the batch; `.sum` adds the losses.
///
/// A sample no path can explain (more labels, with their forced blanks between repeats, than frames)
/// has an infinite loss; with `zeroInfinity` it contributes 0 and no gradient instead.
///
/// The gradient is taken with respect to `logProbs` themselves, ∂ℓ/∂log yₜ(k) = −Σ_{s: l′ₛ = k} γₜ(s)
/// with γ the state occupancy from the forward–backward recursions (Double, log space); through
/// `logSoftmax` that becomes the familiar softmax − γ.
public func ctcLoss(logProbs: Tensor, targets: [[Int]], inputLengths: [Int]? = nil, blank: Int = 0,
                    reduction: LossReduction = .mean, zeroInfinity: Bool = false) throws -> Tensor {
    guard logProbs.rank == 3 else { throw TensorError("ctc: log-probabilities must be [B, T, V], got \(describe(logProbs.shape))") }
    let (b, t, v) = (logProbs.shape[0], logProbs.shape[1], logProbs.shape[2])
    guard targets.count == b else { throw TensorError("ctc: \(targets.count) label sequences for a batch of \(b)") }
    guard (0..<v).contains(blank) else { throw TensorError("ctc: blank \(blank) is outside the \(v) classes") }
    let lengths = inputLengths ?? [Int](repeating: t, count: b)
    guard lengths.count == b else { throw TensorError("ctc: \(lengths.count) input lengths for a batch of \(b)") }
    for i in 0..<b {
        guard (0...t).contains(lengths[i]) else { throw TensorError("ctc: input length \(lengths[i]) of sample \(i) is outside [0, \(t)]") }
        if let bad = targets[i].first(where: { $0 == blank || $0 < 0 || $0 >= v }) {
            throw TensorError("ctc: label \(bad) of sample \(i) is the blank or outside [0, \(v))")
        }
    }
    let dense = logProbs.contiguousStorageView()
    defer { keepAlive(dense) }
    var losses = [Double](repeating: 0, count: b)
    var occupancies = [[Double]](repeating: [], count: b)   // per sample [T, V]: Σ γ over states of class k
    let lp = dense.pointer
    losses.withUnsafeMutableBufferPointer { lossBuffer in
        occupancies.withUnsafeMutableBufferPointer { occupancyBuffer in
            let lossOut = lossBuffer.baseAddress!, occupancyOut = occupancyBuffer.baseAddress!
            Threads.parallelFor(b, grain: 1) { range in
                for i in range {
                    let (loss, occupancy) = CTC.forwardBackward(lp + i * t * v, frames: lengths[i], classes: v,
                                                                labels: targets[i], blank: blank)
                    lossOut[i] = loss
                    occupancyOut[i] = occupancy
                }
            }
        }
    }
    var weights = [Double](repeating: 0, count: b)   // ∂(reduced loss)/∂(loss of sample i)
    var total = 0.0
    for i in 0..<b {
        if losses[i].isInfinite && zeroInfinity { continue }
        let w = reduction == .mean ? 1 / (Double(max(targets[i].count, 1)) * Double(max(b, 1))) : 1
        weights[i] = w
        total += w * losses[i]
    }
    let out = Tensor(scalar: Float(total))
    return Tensor.record("ctc_loss", out, inputs: [logProbs]) { g in
        let scale = Double(g.item)
        let grad = Tensor(zeros: [b, t, v])
        let gp = grad.pointer
        for i in 0..<b where weights[i] != 0 && losses[i].isFinite {
            let w = scale * weights[i], occupancy = occupancies[i]
            for j in 0..<(lengths[i] * v) { gp[i * t * v + j] = Float(-w * occupancy[j]) }
        }
        return [grad]
    }
}

/// Greedy CTC decoding: the best class of each frame, repeats merged, blanks dropped.
public func ctcGreedyDecode(logProbs: Tensor, inputLengths: [Int]? = nil, blank: Int = 0) -> [[Int]] {
    ctcGreedySegments(scores: logProbs, inputLengths: inputLengths, blank: blank).map { $0.map(\.label) }
}

/// One label of a greedy CTC path and the consecutive frames that emit it.
public struct CTCSegment: Equatable, Sendable {
    public var label: Int
    public var frames: Range<Int>
    public init(label: Int, frames: Range<Int>) { self.label = label; self.frames = frames }
}

/// Greedy CTC segmentation of `scores` [B, T, V] (log-probabilities or logits: only each frame's
/// best class matters): every run of frames whose best class is the same non-blank label, in order.
/// Two runs of one label with a blank between are two segments, as in decoding.
public func ctcGreedySegments(scores: Tensor, inputLengths: [Int]? = nil, blank: Int = 0) -> [[CTCSegment]] {
    precondition(scores.rank == 3, "ctc decoding needs [B, T, V], got \(describe(scores.shape))")
    let (b, t, v) = (scores.shape[0], scores.shape[1], scores.shape[2])
    let x = scores.contiguous().scalars
    return (0..<b).map { i in
        var segments: [CTCSegment] = [], previous = blank
        for f in 0..<(inputLengths?[i] ?? t) {
            let row = (i * t + f) * v
            var best = 0
            for k in 1..<v where x[row + k] > x[row + best] { best = k }
            if best != blank {
                if best == previous { segments[segments.count - 1].frames = segments[segments.count - 1].frames.lowerBound..<(f + 1) }
                else { segments.append(CTCSegment(label: best, frames: f..<(f + 1))) }
            }
            previous = best
        }
        return segments
    }
}

enum CTC {
    /// −log p(labels) and the class occupancy [frames × classes] (zeros past `frames`' rows are not
    /// stored: the array has frames · classes entries) of one sample, whose log-probabilities are
    /// `x` [T, classes] with rows 0..<frames used. Infinite loss (and zero occupancy) when no path fits.
    static func forwardBackward(_ x: UnsafePointer<Float>, frames: Int, classes: Int, labels: [Int],
                                blank: Int) -> (Double, [Double]) {
        let s = 2 * labels.count + 1
        // l′: blank, y₁, blank, y₂, …, blank
        let extended = (0..<s).map { $0 % 2 == 0 ? blank : labels[$0 / 2] }
        var occupancy = [Double](repeating: 0, count: frames * classes)
        guard frames > 0 else { return (labels.isEmpty ? 0 : .infinity, occupancy) }
        let none = -Double.infinity
        func emit(_ f: Int, _ k: Int) -> Double { Double(x[f * classes + k]) }
        // A state may be entered from two back when it is a label that differs from the one two back.
        let canSkip = (0..<s).map { $0 >= 2 && extended[$0] != blank && extended[$0] != extended[$0 - 2] }
        var alpha = [Double](repeating: none, count: frames * s)
        alpha[0] = emit(0, blank)
        if s > 1 { alpha[1] = emit(0, extended[1]) }
        for f in 1..<max(frames, 1) {
            for j in 0..<s {
                var a = alpha[(f - 1) * s + j]
                if j >= 1 { a = logAdd(a, alpha[(f - 1) * s + j - 1]) }
                if canSkip[j] { a = logAdd(a, alpha[(f - 1) * s + j - 2]) }
                alpha[f * s + j] = a == none ? none : a + emit(f, extended[j])
            }
        }
        let last = (frames - 1) * s
        let logP = s > 1 ? logAdd(alpha[last + s - 1], alpha[last + s - 2]) : alpha[last]
        guard logP > none else { return (.infinity, occupancy) }
        // β excludes the emission at its own frame: βₜ(j) = log p(rest after t | state j at t).
        var beta = [Double](repeating: none, count: frames * s)
        beta[last + s - 1] = 0
        if s > 1 { beta[last + s - 2] = 0 }
        for f in stride(from: frames - 2, through: 0, by: -1) {
            for j in 0..<s {
                var acc = beta[(f + 1) * s + j] + emit(f + 1, extended[j])
                if j + 1 < s { acc = logAdd(acc, beta[(f + 1) * s + j + 1] + emit(f + 1, extended[j + 1])) }
                if j + 2 < s && canSkip[j + 2] { acc = logAdd(acc, beta[(f + 1) * s + j + 2] + emit(f + 1, extended[j + 2])) }
                beta[f * s + j] = acc
            }
        }
        for f in 0..<frames {
            for j in 0..<s where alpha[f * s + j] > none && beta[f * s + j] > none {
                occupancy[f * classes + extended[j]] += Foundation.exp(alpha[f * s + j] + beta[f * s + j] - logP)
            }
        }
        return (-logP, occupancy)
    }

    @inline(__always)
    static func logAdd(_ a: Double, _ b: Double) -> Double {
        if a == -.infinity { return b }
        if b == -.infinity { return a }
        let m = Swift.max(a, b)
        return m + Foundation.log(Foundation.exp(a - m) + Foundation.exp(b - m))
    }
}
