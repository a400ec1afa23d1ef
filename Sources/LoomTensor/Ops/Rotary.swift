import CLoomKernels
import Foundation

/// Rotary position embedding tables, computed as transformers does in float32: for each position p
/// and frequency i, angle = inv_freq[i] · p, with emb = concat(freqs, freqs) (half-split, not
/// interleaved).
public struct RotaryTable: Sendable {
    public let headDim: Int
    /// [headDim / 2] inverse frequencies, after any rope scaling.
    public let inverseFrequencies: [Float]
    /// Scales cos and sin (1 except for yarn/longrope-style scalings).
    public let attentionScaling: Float

    public init(headDim: Int, inverseFrequencies: [Float], attentionScaling: Float = 1) {
        precondition(headDim % 2 == 0 && inverseFrequencies.count == headDim / 2,
                     "rotary head dim \(headDim) needs \(headDim / 2) frequencies, got \(inverseFrequencies.count)")
        self.headDim = headDim
        self.inverseFrequencies = inverseFrequencies
        self.attentionScaling = attentionScaling
    }

    /// The default frequencies 1 / base^(2i/d), each step rounded to float32 as torch computes them.
    public static func defaultInverseFrequencies(headDim: Int, base: Float) -> [Float] {
        (0..<(headDim / 2)).map { i in
            let exponent = Float(2 * i) / Float(headDim)
            return 1 / powf(base, exponent)
        }
    }

    /// cos and sin rows [count, headDim / 2] for the given positions.
    func angles(_ positions: [Int]) -> (cos: [Float], sin: [Float]) {
        let half = headDim / 2
        var c = [Float](repeating: 0, count: positions.count * half)
        var s = c
        for (row, p) in positions.enumerated() {
            let position = Float(p)
            for i in 0..<half {
                let angle = inverseFrequencies[i] * position
                c[row * half + i] = cosf(angle) * attentionScaling
                s[row * half + i] = sinf(angle) * attentionScaling
            }
        }
        return (c, s)
    }
}

/// The cos and sin rows of a rotary table at some positions, [count, headDim / 2] each: computed once
/// per forward pass and shared by every layer's queries and keys.
public struct RotaryAngles: Sendable {
    public let headDim: Int
    /// Positions covered (T shared by the batch, or B·T).
    public let count: Int
    let cos: [Float], sin: [Float]

    public init(table: RotaryTable, positions: [Int]) {
        headDim = table.headDim
        count = positions.count
        (cos, sin) = table.angles(positions)
    }

    private init(headDim: Int, count: Int, cos: [Float], sin: [Float]) {
        (self.headDim, self.count, self.cos, self.sin) = (headDim, count, cos, sin)
    }

    /// The angles of the last `n` positions (the queries of a layer cut to its last rows), for angles
    /// shared by the batch (one row per position): per-sample angles ([B·T]) would keep only the last
    /// sample's.
    public func suffix(_ n: Int) -> RotaryAngles {
        precondition(n <= count, "\(n) of \(count) positions")
        let half = headDim / 2
        return RotaryAngles(headDim: headDim, count: n, cos: Array(cos.suffix(n * half)), sin: Array(sin.suffix(n * half)))
    }
}

/// Rotates x [B, T, H, D] (heads of one token contiguous, as a projection reshaped) by the angles of
/// `positions` ([T] shared by the batch, or [B·T]):
/// x'[i] = x[i]·cos − x[i+D/2]·sin, x'[i+D/2] = x[i+D/2]·cos + x[i]·sin.
public func applyRotaryEmbedding(_ x: Tensor, table: RotaryTable, positions: [Int]) -> Tensor {
    applyRotaryEmbedding(x, angles: RotaryAngles(table: table, positions: positions))
}

/// Rotates x [B, T, H, D] by precomputed angles ([T] shared by the batch, or [B·T]); the rows run in
/// CLoomKernels.
public func applyRotaryEmbedding(_ x: Tensor, angles: RotaryAngles) -> Tensor {
    precondition(x.rank == 4 && x.shape[3] == angles.headDim,
                 "rotary embedding wants [B, T, H, \(angles.headDim)], got \(describe(x.shape))")
    let (b, t, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    precondition(angles.count == t || angles.count == b * t, "\(angles.count) positions for [\(b), \(t)]")
    let half = d / 2
    let shared = angles.count == t
    func rotate(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, inverse: Bool) {
        guard b * t * h > 0 else { return }
        angles.cos.withUnsafeBufferPointer { cp in
            angles.sin.withUnsafeBufferPointer { sp in
                let (cosRows, sinRows) = (cp.baseAddress!, sp.baseAddress!)
                Threads.parallelFor(b * t, grain: max(1, 4096 / max(h * d, 1))) { range in
                    for bt in range {
                        let row = (shared ? bt % t : bt) * half
                        loom_rotary(src + bt * h * d, dst + bt * h * d, cosRows + row, sinRows + row, h, half, inverse ? 1 : 0)
                    }
                }
            }
        }
    }
    let xd = x.contiguousStorageView()
    defer { keepAlive(xd) }
    let out = Tensor(uninitialized: x.shape)
    rotate(xd.pointer, out.pointer, inverse: false)
    return Tensor.record("rotary", out, inputs: [x]) { g in
        // The rotation is orthogonal: its transpose rotates by the negative angle.
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        let grad = Tensor(uninitialized: g.shape)
        rotate(gd.pointer, grad.pointer, inverse: true)
        return [grad]
    }
}
