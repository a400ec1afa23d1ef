import CLoomKernels
import Foundation

/// Which keys each query may see.
public struct AttentionMask: Sendable {
    /// Query i (of Tq) sits at position Tk − Tq + i and sees keys at or before it (works with a KV cache).
    public var isCausal: Bool
    /// [B · Tk], true for real tokens: padding keys are never attended. Nil: every key is real.
    public var keyPadding: [Bool]?
    /// With `isCausal`: a query also ignores keys `slidingWindow` or more positions behind it (Mistral).
    public var slidingWindow: Int?

    public init(isCausal: Bool = false, keyPadding: [Bool]? = nil, slidingWindow: Int? = nil) {
        self.isCausal = isCausal
        self.keyPadding = keyPadding
        self.slidingWindow = slidingWindow
    }

    public static let none = AttentionMask()
    public static let causal = AttentionMask(isCausal: true)

    /// True when query `i` of a row may attend key `j`.
    @inline(__always)
    func allows(batch: Int, query i: Int, key j: Int, tq: Int, tk: Int) -> Bool {
        if isCausal {
            let position = tk - tq + i
            if j > position { return false }
            if let slidingWindow, position - j >= slidingWindow { return false }
        }
        if let keyPadding, !keyPadding[batch * tk + j] { return false }
        return true
    }
}

/// Fused scaled-dot-product attention, softmax(scale · Q·Kᵀ + mask) · V, per (batch, head), with
/// grouped-query heads: query head h reads KV head h / (H / Hkv), as transformers' `repeat_kv`.
///
/// query [B, H, Tq, D], key [B, Hkv, Tk, D], value [B, Hkv, Tk, Dv] → [B, H, Tq, Dv]. Inputs may be
/// views (e.g. transposed from [B, T, H, D]); the result is laid out as [B, Tq, H, Dv] in memory, so
/// `.transposed(1, 2).reshaped([B, Tq, H·Dv])` costs nothing. The score matrix lives only per head in
/// scratch; backward recomputes it from the saved log-sum-exp. A query row with no visible key
/// attends uniformly to all keys, as transformers' additive min-float mask makes it (its output then
/// does not depend on the scores, so no gradient reaches q or k through it).
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor,
                                      mask: AttentionMask = .none, scale: Float? = nil) -> Tensor {
    precondition(query.rank == 4 && key.rank == 4 && value.rank == 4, "attention wants rank-4 q/k/v, got \(describe(query.shape)), \(describe(key.shape)), \(describe(value.shape))")
    let (b, h, tq, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let (hkv, tk, dv) = (key.shape[1], key.shape[2], value.shape[3])
    precondition(key.shape[0] == b && value.shape[0] == b && key.shape[3] == d && value.shape[1] == hkv && value.shape[2] == tk,
                 "attention shapes: q \(describe(query.shape)), k \(describe(key.shape)), v \(describe(value.shape))")
    precondition(hkv > 0 && h % hkv == 0, "\(h) query heads are not a multiple of \(hkv) key/value heads")
    if let pad = mask.keyPadding { precondition(pad.count == b * tk, "key padding mask has \(pad.count) entries for [\(b), \(tk)]") }
    let scale = scale ?? 1 / Float(d).squareRoot()
    let nRep = h / hkv
    let q = Attention.Operand(query), k = Attention.Operand(key), v = Attention.Operand(value)

    let storage = TensorStorage(uninitializedCount: b * tq * h * dv)
    let out = Tensor(storage: storage, shape: [b, h, tq, dv], strides: [tq * h * dv, dv, h * dv, 1])
    let blocks = Attention.QueryBlocks(mask: mask, batch: b, tq: tq, tk: tk)
    var logSumExp = [Float](repeating: 0, count: b * h * tq)
    logSumExp.withUnsafeMutableBufferPointer { lseBuffer in
        let lse = lseBuffer.baseAddress!
        BLAS.withSingleThreadedGEMM {
            Threads.parallelFor(b * h, grain: 1) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(blocks.rows * tk, 1))
                defer { scores.deallocate() }
                for bh in range {
                    let (s, head) = (bh / h, bh % h)
                    let kvHead = head / nRep
                    for (block, (i0, i1)) in blocks.ranges.enumerated() {
                        // Keys past `width` are masked for every query of the block: skipped.
                        let width = blocks.widths[s][block]
                        BLAS.sgemm(transA: false, transB: true, m: i1 - i0, n: width, k: d, alpha: scale,
                                   a: q.at(s, head) + i0 * q.ld, lda: q.ld, b: k.at(s, kvHead), ldb: k.ld, beta: 0, c: scores, ldc: width)
                        for i in i0..<i1 {
                            lse[bh * tq + i] = Attention.maskedSoftmaxRow(scores + (i - i0) * width, width: width, batch: s, query: i,
                                                                          tq: tq, tk: tk, mask: mask)
                        }
                        BLAS.sgemm(transA: false, transB: false, m: i1 - i0, n: dv, k: width, a: scores, lda: width,
                                   b: v.at(s, kvHead), ldb: v.ld, beta: 0,
                                   c: out.pointer + s * tq * h * dv + i0 * h * dv + head * dv, ldc: h * dv)
                    }
                }
            }
        }
    }

    let saved = (q: q, k: k, v: v, out: out.detached())
    return Tensor.record("attention", out, inputs: [query, key, value]) { g in
        let dO = Attention.Operand(g)
        let gq = query.needsGradient ? Tensor(zeros: [b, h, tq, d]) : nil
        let gk = key.needsGradient ? Tensor(zeros: [b, hkv, tk, d]) : nil
        let gv = value.needsGradient ? Tensor(zeros: [b, hkv, tk, dv]) : nil
        logSumExp.withUnsafeBufferPointer { lseBuffer in
            let lse = lseBuffer.baseAddress!
            BLAS.withSingleThreadedGEMM {
                // One worker per (batch, KV head): the heads sharing a KV head add into the same dK, dV.
                Threads.parallelFor(b * hkv, grain: 1) { range in
                    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(blocks.rows * tk, 1))
                    let dp = UnsafeMutablePointer<Float>.allocate(capacity: max(blocks.rows * tk, 1))
                    defer { p.deallocate(); dp.deallocate() }
                    for bk in range {
                        let (s, kvHead) = (bk / hkv, bk % hkv)
                        for head in (kvHead * nRep)..<((kvHead + 1) * nRep) {
                            let bh = s * h + head
                            for (block, (i0, i1)) in blocks.ranges.enumerated() {
                                let (m, width) = (i1 - i0, blocks.widths[s][block])
                                let qBlock = saved.q.at(s, head) + i0 * saved.q.ld, dOBlock = dO.at(s, head) + i0 * dO.ld
                                // P = exp(scale·Q·Kᵀ − lse), masked
                                BLAS.sgemm(transA: false, transB: true, m: m, n: width, k: d, alpha: scale,
                                           a: qBlock, lda: saved.q.ld, b: saved.k.at(s, kvHead), ldb: saved.k.ld,
                                           beta: 0, c: p, ldc: width)
                                for i in i0..<i1 {
                                    Attention.probabilitiesRow(p + (i - i0) * width, width: width, logSumExp: lse[bh * tq + i], batch: s,
                                                               query: i, tq: tq, tk: tk, mask: mask)
                                }
                                if let gv {  // dV += Pᵀ · dO
                                    BLAS.sgemm(transA: true, transB: false, m: width, n: dv, k: m, a: p, lda: width,
                                               b: dOBlock, ldb: dO.ld, beta: 1,
                                               c: gv.pointer + (s * hkv + kvHead) * tk * dv, ldc: dv)
                                }
                                guard gq != nil || gk != nil else { continue }
                                // dP = dO · Vᵀ; dS = P ⊙ (dP − rowsum(P ⊙ dP))
                                BLAS.sgemm(transA: false, transB: true, m: m, n: width, k: dv, a: dOBlock, lda: dO.ld,
                                           b: saved.v.at(s, kvHead), ldb: saved.v.ld, beta: 0, c: dp, ldc: width)
                                for i in i0..<i1 {
                                    let pr = p + (i - i0) * width, dpr = dp + (i - i0) * width
                                    if lse[bh * tq + i].isNaN {  // fully masked: output does not depend on the scores
                                        dpr.update(repeating: 0, count: width)
                                        continue
                                    }
                                    loom_softmax_backward_row(pr, dpr, width)
                                }
                                if let gq {  // dQ = scale · dS · K
                                    BLAS.sgemm(transA: false, transB: false, m: m, n: d, k: width, alpha: scale, a: dp, lda: width,
                                               b: saved.k.at(s, kvHead), ldb: saved.k.ld, beta: 0,
                                               c: gq.pointer + (bh * tq + i0) * d, ldc: d)
                                }
                                if let gk {  // dK += scale · dSᵀ · Q
                                    BLAS.sgemm(transA: true, transB: false, m: width, n: d, k: m, alpha: scale, a: dp, lda: width,
                                               b: qBlock, ldb: saved.q.ld, beta: 1,
                                               c: gk.pointer + (s * hkv + kvHead) * tk * d, ldc: d)
                                }
                            }
                        }
                    }
                }
            }
        }
        keepAlive(saved.q.tensor, saved.k.tensor, saved.v.tensor, saved.out, dO.tensor)
        return [gq, gk, gv]
    }
}

/// Helpers of the fused attention kernel.
enum Attention {
    /// A [B, H, T, D] view whose rows are unit-stride: each (batch, head) matrix is a BLAS operand.
    struct Operand {
        let tensor: Tensor
        let base: UnsafePointer<Float>
        let batchStride: Int, headStride: Int, ld: Int

        init(_ x: Tensor) {
            let dense = x.strides[3] == 1 || x.shape[3] == 1 ? x.detached() : Kernels.copyStrided(x)
            tensor = dense
            base = UnsafePointer(dense.pointer)
            batchStride = dense.strides[0]
            headStride = dense.strides[1]
            ld = dense.shape[2] <= 1 ? max(dense.shape[3], 1) : dense.strides[2]
            precondition(ld >= dense.shape[3] || dense.shape[2] <= 1, "attention operand rows overlap: strides \(describe(x.strides))")
        }

        @inline(__always)
        func at(_ batch: Int, _ head: Int) -> UnsafePointer<Float> { base + batch * batchStride + head * headStride }
    }

    /// Query rows processed together. Under a causal mask a block needs only the keys up to its
    /// last query (`width`), so the masked upper triangle is mostly never computed: about half the
    /// score and P·V work for a full sequence. Without a causal mask there is one block of all rows.
    struct QueryBlocks {
        /// Rows per block (tests lower it to exercise the blocking on short sequences).
        nonisolated(unsafe) static var causalRows = 64
        /// Query rows [start, end) of each block.
        let ranges: [(Int, Int)]
        let rows: Int
        /// [batch][block]: the keys the block's scores need, computed once for all heads. Up to the
        /// last query's causal limit, or all tk when a row of the block sees no key (it then attends
        /// uniformly to every key).
        let widths: [[Int]]

        init(mask: AttentionMask, batch: Int, tq: Int, tk: Int) {
            // Causal blocks start at multiples of `causalRows` in absolute position (query i sits at
            // tk − tq + i), so a query gets the same block, key width and summation whether all
            // positions are queried or only the last ones (a cut last layer, a KV-cache prefill).
            let step = mask.isCausal ? max(1, Self.causalRows) : max(tq, 1)
            let offset = mask.isCausal ? max(tk - tq, 0) % step : 0
            var ranges: [(Int, Int)] = []
            var start = 0, end = min(tq, step - offset)
            while start < tq {
                ranges.append((start, end))
                (start, end) = (end, min(tq, end + step))
            }
            self.rows = max(1, ranges.map { $0.1 - $0.0 }.max() ?? 1)
            self.ranges = ranges
            guard mask.isCausal else {
                widths = [[Int]](repeating: [Int](repeating: tk, count: ranges.count), count: batch)
                return
            }
            widths = (0..<batch).map { s in
                // Prefix counts of real keys (padding), to tell whether a query sees any key.
                var realBefore = [0], running = 0
                if let padding = mask.keyPadding {
                    for j in 0..<tk { running += padding[s * tk + j] ? 1 : 0; realBefore.append(running) }
                }
                return ranges.map { (i0, i1) in
                    for i in i0..<i1 {
                        let (lo, hi) = Attention.visibleRange(query: i, tq: tq, tk: tk, mask: mask)
                        let visible = mask.keyPadding == nil ? hi - lo : realBefore[hi] - realBefore[lo]
                        if visible <= 0 { return tk }
                    }
                    return max(0, min(tk, tk - tq + i1))
                }
            }
        }
    }

    /// Keys [lo, hi) that the causal and sliding-window limits leave to query `i` (all without them).
    @inline(__always)
    static func visibleRange(query i: Int, tq: Int, tk: Int, mask: AttentionMask) -> (Int, Int) {
        var lo = 0, hi = tk
        if mask.isCausal {
            let position = tk - tq + i
            hi = max(0, min(tk, position + 1))
            if let window = mask.slidingWindow { lo = max(0, position - window + 1) }
        }
        return (min(lo, hi), hi)
    }

    /// Sets the masked scores of one row (its first `width` keys; the rest are masked and absent) to
    /// −inf; returns whether any key stays visible. The causal and sliding-window limits are a
    /// contiguous window, so only padding needs a per-key look.
    @inline(__always)
    static func applyMask(_ row: UnsafeMutablePointer<Float>, width: Int, batch: Int, query i: Int, tq: Int, tk: Int,
                          mask: AttentionMask) -> Bool {
        var (lo, hi) = visibleRange(query: i, tq: tq, tk: tk, mask: mask)
        hi = min(hi, width)
        lo = min(lo, hi)
        if lo > 0 { row.update(repeating: -.infinity, count: lo) }
        if hi < width { (row + hi).update(repeating: -.infinity, count: width - hi) }
        guard let padding = mask.keyPadding else { return lo < hi }
        var anyVisible = false
        padding.withUnsafeBufferPointer { keep in
            let base = batch * tk
            for j in lo..<hi {
                if keep[base + j] { anyVisible = true } else { row[j] = -.infinity }
            }
        }
        return anyVisible
    }

    /// Softmax of one score row of `width` keys in place under the mask; returns its log-sum-exp (of
    /// the unmasked scores), or NaN for a fully masked row, which then attends uniformly to all tk
    /// keys (its block then has width tk).
    @inline(__always)
    static func maskedSoftmaxRow(_ row: UnsafeMutablePointer<Float>, width: Int, batch: Int, query i: Int, tq: Int, tk: Int,
                                 mask: AttentionMask) -> Float {
        guard applyMask(row, width: width, batch: batch, query: i, tq: tq, tk: tk, mask: mask) else {
            precondition(width == tk, "a fully masked query row needs every key")
            row.update(repeating: 1 / Float(tk), count: tk)
            return .nan  // marks "uniform" for the backward recomputation
        }
        return loom_softmax_in_place(row, width)
    }

    /// Recomputes probabilities from raw scores and the saved log-sum-exp.
    @inline(__always)
    static func probabilitiesRow(_ row: UnsafeMutablePointer<Float>, width: Int, logSumExp: Float, batch: Int, query i: Int,
                                 tq: Int, tk: Int, mask: AttentionMask) {
        if logSumExp.isNaN {
            row.update(repeating: 1 / Float(tk), count: width)
            return
        }
        _ = applyMask(row, width: width, batch: batch, query: i, tq: tq, tk: tk, mask: mask)
        loom_exp_shifted_in_place(row, width, logSumExp)  // e^(−inf) = 0
    }
}
