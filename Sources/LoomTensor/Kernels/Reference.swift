import Foundation

/// Naive twins of the fast kernels: plain loops in Double over the logical indices, no BLAS, no
/// SIMD, no threads. Tests assert that each fast path agrees with its twin on awkward shapes.
extension Kernels {
    public enum Reference {
        /// Element of any view by multi-index.
        static func element(_ x: Tensor, _ index: [Int]) -> Double {
            var offset = 0
            for (axis, i) in index.enumerated() { offset += i * x.strides[axis] }
            return Double(x.pointer[offset])
        }

        static func indices(_ shape: [Int]) -> [[Int]] {
            var result: [[Int]] = [[]]
            for size in shape { result = result.flatMap { prefix in (0..<size).map { prefix + [$0] } } }
            return result
        }

        /// [..., m, k] · [..., k, n] with broadcasting of batch dims, triple loop in Double.
        public static func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
            let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
            let batch = broadcastShape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
            var values: [Float] = []
            for bi in indices(batch) {
                let ai = Array(bi.suffix(a.rank - 2)).enumerated().map { a.shape[$0.offset] == 1 ? 0 : $0.element }
                let bj = Array(bi.suffix(b.rank - 2)).enumerated().map { b.shape[$0.offset] == 1 ? 0 : $0.element }
                for i in 0..<m {
                    for j in 0..<n {
                        var acc = 0.0
                        for p in 0..<k { acc += element(a, ai + [i, p]) * element(b, bj + [p, j]) }
                        values.append(Float(acc))
                    }
                }
            }
            return Tensor(shape: batch + [m, n], scalars: values)
        }

        public static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
            let shape = broadcastShape(a.shape, b.shape)
            let values = indices(shape).map { index -> Float in
                let ia = Array(index.suffix(a.rank)).enumerated().map { a.shape[$0.offset] == 1 ? 0 : $0.element }
                let ib = Array(index.suffix(b.rank)).enumerated().map { b.shape[$0.offset] == 1 ? 0 : $0.element }
                return op.apply(Float(element(a, ia)), Float(element(b, ib)))
            }
            return Tensor(shape: shape, scalars: values)
        }

        /// Pointwise activations in Double from their textbook definitions.
        public static func activation(_ x: Tensor, _ name: String) -> Tensor {
            func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
            let f: (Double) -> Double
            switch name {
            case "sigmoid": f = sigmoid
            case "silu": f = { $0 * sigmoid($0) }
            case "quick_gelu": f = { $0 * sigmoid(1.702 * $0) }
            case "gelu": f = { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
            case "gelu_tanh": f = { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
            case "tanh": f = Foundation.tanh
            case "relu": f = { max($0, 0) }
            default: preconditionFailure("no reference for \(name)")
            }
            return Tensor(shape: x.shape, scalars: x.scalars.map { Float(f(Double($0))) })
        }

        /// Softmax (or log-softmax) over the last axis, in Double.
        public static func softmax(_ x: Tensor, log: Bool = false) -> Tensor {
            let n = x.shape.last!
            let v = x.scalars
            var out = [Float](repeating: 0, count: v.count)
            for r in 0..<(v.count / n) {
                let row = v[(r * n)..<((r + 1) * n)].map(Double.init)
                let m = row.max()!
                let total = row.reduce(0) { $0 + Foundation.exp($1 - m) }
                for j in 0..<n {
                    out[r * n + j] = Float(log ? row[j] - m - Foundation.log(total) : Foundation.exp(row[j] - m) / total)
                }
            }
            return Tensor(shape: x.shape, scalars: out)
        }

        public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
            let d = x.shape.last!
            let v = x.scalars, w = weight?.scalars, b = bias?.scalars
            var out = [Float](repeating: 0, count: v.count)
            for r in 0..<(v.count / d) {
                let row = v[(r * d)..<((r + 1) * d)].map(Double.init)
                let mean = row.reduce(0, +) / Double(d)
                let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
                for j in 0..<d {
                    var y = (row[j] - mean) / (variance + Double(eps)).squareRoot()
                    if let w { y *= Double(w[j]) }
                    if let b { y += Double(b[j]) }
                    out[r * d + j] = Float(y)
                }
            }
            return Tensor(shape: x.shape, scalars: out)
        }

        public static func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
            let d = x.shape.last!
            let v = x.scalars, w = weight.scalars
            var out = [Float](repeating: 0, count: v.count)
            for r in 0..<(v.count / d) {
                let row = v[(r * d)..<((r + 1) * d)].map(Double.init)
                let ms = row.reduce(0) { $0 + $1 * $1 } / Double(d)
                for j in 0..<d { out[r * d + j] = Float(row[j] / (ms + Double(eps)).squareRoot() * Double(w[j])) }
            }
            return Tensor(shape: x.shape, scalars: out)
        }

        /// Attention with the full score tensor materialised, explicit repeat of KV heads.
        public static func attention(query: Tensor, key: Tensor, value: Tensor, mask: AttentionMask, scale: Float?) -> Tensor {
            let (b, h, tq, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
            let (hkv, tk, dv) = (key.shape[1], key.shape[2], value.shape[3])
            let s = Double(scale ?? 1 / Float(d).squareRoot())
            var out = [Float](repeating: 0, count: b * h * tq * dv)
            for bi in 0..<b {
                for hi in 0..<h {
                    let kh = hi / (h / hkv)
                    for i in 0..<tq {
                        var scores = [Double](repeating: 0, count: tk)
                        var visible = [Bool](repeating: false, count: tk)
                        for j in 0..<tk {
                            var acc = 0.0
                            for p in 0..<d { acc += element(query, [bi, hi, i, p]) * element(key, [bi, kh, j, p]) }
                            scores[j] = acc * s
                            visible[j] = mask.allows(batch: bi, query: i, key: j, tq: tq, tk: tk)
                        }
                        var probs = [Double](repeating: 1 / Double(tk), count: tk)
                        if visible.contains(true) {
                            let m = zip(scores, visible).filter(\.1).map(\.0).max()!
                            let e = zip(scores, visible).map { $1 ? Foundation.exp($0 - m) : 0 }
                            let total = e.reduce(0, +)
                            probs = e.map { $0 / total }
                        }
                        for c in 0..<dv {
                            var acc = 0.0
                            for j in 0..<tk { acc += probs[j] * element(value, [bi, kh, j, c]) }
                            out[((bi * h + hi) * tq + i) * dv + c] = Float(acc)
                        }
                    }
                }
            }
            return Tensor(shape: [b, h, tq, dv], scalars: out)
        }

        public static func crossEntropy(logits: Tensor, targets: [Int], ignoreIndex: Int) -> Float {
            let c = logits.shape.last!
            let v = logits.scalars
            var total = 0.0, count = 0
            for (r, y) in targets.enumerated() where y != ignoreIndex {
                let row = v[(r * c)..<((r + 1) * c)].map(Double.init)
                let m = row.max()!
                total += m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) - row[y]
                count += 1
            }
            return Float(total / Double(count))
        }

        /// Direct convolution sum.
        public static func conv1d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
            let (b, cin, l) = (x.shape[0], x.shape[1], x.shape[2])
            let (cout, k) = (weight.shape[0], weight.shape[2])
            let lout = (l + 2 * padding - k) / stride + 1
            var out = [Float](repeating: 0, count: b * cout * lout)
            for s in 0..<b {
                for o in 0..<cout {
                    for t in 0..<lout {
                        var acc = Double(bias?.scalars[o] ?? 0)
                        for c in 0..<cin {
                            for kk in 0..<k {
                                let pos = t * stride + kk - padding
                                if pos >= 0 && pos < l { acc += element(x, [s, c, pos]) * element(weight, [o, c, kk]) }
                            }
                        }
                        out[(s * cout + o) * lout + t] = Float(acc)
                    }
                }
            }
            return Tensor(shape: [b, cout, lout], scalars: out)
        }

        /// conv2d with stride = kernel, flattened to tokens [B, N, D].
        public static func patchEmbedding(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
            let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let (d, p) = (weight.shape[0], weight.shape[2])
            let (gh, gw) = (h / p, w / p)
            var out = [Float](repeating: 0, count: b * gh * gw * d)
            for s in 0..<b {
                for gy in 0..<gh {
                    for gx in 0..<gw {
                        for o in 0..<d {
                            var acc = Double(bias?.scalars[o] ?? 0)
                            for ch in 0..<c {
                                for py in 0..<p {
                                    for px in 0..<p {
                                        acc += element(x, [s, ch, gy * p + py, gx * p + px]) * element(weight, [o, ch, py, px])
                                    }
                                }
                            }
                            out[((s * gh + gy) * gw + gx) * d + o] = Float(acc)
                        }
                    }
                }
            }
            return Tensor(shape: [b, gh * gw, d], scalars: out)
        }
    }
}
