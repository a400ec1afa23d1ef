/// Broadcasting elementwise arithmetic on raw memory. Dense operands take vectorised, threaded loops;
/// any other layout takes the strided walk. `Kernels.Reference.binary` is the naive twin.
extension Kernels {
    public enum BinaryOp: Sendable {
        case add, subtract, multiply, divide

        @inline(__always)
        func apply(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .add: return a + b
            case .subtract: return a - b
            case .multiply: return a * b
            case .divide: return a / b
            }
        }
    }

    /// `op(a, b)` with NumPy broadcasting, as a new contiguous tensor.
    public static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
        if a.isBFloat16 || b.isBFloat16 {  // a frozen table kept in bfloat16 (e.g. position embeddings)
            return binary(a.isBFloat16 ? copyStrided(a) : a, b.isBFloat16 ? copyStrided(b) : b, op)
        }
        let shape = broadcastShape(a.shape, b.shape)
        let out = Tensor(uninitialized: shape)
        let n = out.count
        if n == 0 { return out }
        let pa = UnsafePointer(a.pointer), pb = UnsafePointer(b.pointer), po = out.pointer
        if a.isContiguous && b.isContiguous {
            if a.count == n && b.count == n {
                binaryDense(pa, 1, pb, 1, po, n, op)
                return out
            }
            // One operand repeats along leading dims (bias, per-channel scale): rows of the other.
            if a.count == n && isTrailingBroadcast(b.shape, of: shape) {
                let inner = b.count
                Threads.parallelFor(n / inner, grain: max(1, 16384 / max(inner, 1))) { rows in
                    for r in rows { binaryDense(pa + r * inner, 1, pb, 1, po + r * inner, inner, op) }
                }
                return out
            }
            if b.count == n && isTrailingBroadcast(a.shape, of: shape) {
                let inner = a.count
                Threads.parallelFor(n / inner, grain: max(1, 16384 / max(inner, 1))) { rows in
                    for r in rows { binaryDense(pa, 1, pb + r * inner, 1, po + r * inner, inner, op) }
                }
                return out
            }
            if b.count == 1 { binaryDense(pa, 1, pb, 0, po, n, op); return out }
            if a.count == 1 { binaryDense(pa, 0, pb, 1, po, n, op); return out }
        }
        let sa = broadcastStrides(a, to: shape), sb = broadcastStrides(b, to: shape)
        let ia = shape.isEmpty ? 0 : sa[shape.count - 1], ib = shape.isEmpty ? 0 : sb[shape.count - 1]
        var written = 0
        forEachRow(shape: shape, strides: [sa, sb]) { offsets, length in
            for j in 0..<length {
                po[written + j] = op.apply(pa[offsets[0] + j * ia], pb[offsets[1] + j * ib])
            }
            written += length
        }
        return out
    }

    /// True when `small` equals the last dims of `full` (after dropping its leading 1s).
    static func isTrailingBroadcast(_ small: [Int], of full: [Int]) -> Bool {
        var trimmed = small[...]
        while let first = trimmed.first, first == 1, trimmed.count > 0 { trimmed = trimmed.dropFirst() }
        guard trimmed.count <= full.count, !trimmed.isEmpty else { return false }
        return Array(full.suffix(trimmed.count)) == Array(trimmed)
    }

    /// Dense loop: `o[i] = a[i·sa] op b[i·sb]` with strides 0 or 1, split across threads.
    static func binaryDense(_ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                            _ o: UnsafeMutablePointer<Float>, _ n: Int, _ op: BinaryOp) {
        Threads.parallelFor(n, grain: 32768) { range in
            let lo = range.lowerBound, hi = range.upperBound
            switch (op, sa, sb) {
            case (.add, 1, 1): for i in lo..<hi { o[i] = a[i] + b[i] }
            case (.subtract, 1, 1): for i in lo..<hi { o[i] = a[i] - b[i] }
            case (.multiply, 1, 1): for i in lo..<hi { o[i] = a[i] * b[i] }
            case (.divide, 1, 1): for i in lo..<hi { o[i] = a[i] / b[i] }
            case (_, 1, 0): let s = b[0]; for i in lo..<hi { o[i] = op.apply(a[i], s) }
            case (_, 0, 1): let s = a[0]; for i in lo..<hi { o[i] = op.apply(s, b[i]) }
            default: for i in lo..<hi { o[i] = op.apply(a[i * sa], b[i * sb]) }
            }
        }
    }

    /// a + b for same-shaped tensors (any layout), used to sum gradients.
    public static func added(_ a: Tensor, _ b: Tensor) -> Tensor { binary(a, b, .add) }

    /// target += source, in place; `target` is contiguous, `source` any view of the same shape.
    public static func addInPlace(_ target: Tensor, _ source: Tensor) {
        precondition(target.shape == source.shape, "cannot add \(describe(source.shape)) into \(describe(target.shape))")
        precondition(target.isContiguous, "in-place add needs a contiguous target")
        let dense = source.contiguousStorageView()
        defer { keepAlive(dense) }
        let t = target.pointer, s = UnsafePointer(dense.pointer)
        Threads.parallelFor(target.count, grain: 32768) { range in
            for i in range { t[i] += s[i] }
        }
    }

    /// `dst[i] = f(src[i])` over a dense tensor, vectorised and threaded; returns a new tensor.
    @inline(__always)
    static func mapDense(_ x: Tensor, _ f: @escaping (FloatVector) -> FloatVector) -> Tensor {
        let src = x.contiguousStorageView()
        defer { keepAlive(src) }
        let out = Tensor(uninitialized: x.shape)
        let ps = UnsafePointer(src.pointer), po = out.pointer
        Threads.parallelFor(x.count, grain: 16384) { range in
            mapVectorized(ps + range.lowerBound, po + range.lowerBound, count: range.count, f)
        }
        return out
    }

    /// `dst[i] = f(a[i], b[i])` for two dense same-shaped tensors, vectorised and threaded.
    @inline(__always)
    static func zipDense(_ a: Tensor, _ b: Tensor, _ f: @escaping (FloatVector, FloatVector) -> FloatVector) -> Tensor {
        precondition(a.shape == b.shape, "shapes \(describe(a.shape)) and \(describe(b.shape)) differ")
        let da = a.contiguousStorageView(), db = b.contiguousStorageView()
        defer { keepAlive(da, db) }
        let out = Tensor(uninitialized: a.shape)
        let pa = UnsafeRawPointer(da.pointer), pb = UnsafeRawPointer(db.pointer), po = out.pointer
        Threads.parallelFor(a.count, grain: 16384) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let va = pa.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
                let vb = pb.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
                UnsafeMutableRawPointer(po).storeBytes(of: f(va, vb), toByteOffset: i * 4, as: FloatVector.self)
                i += 16
            }
            if i < range.upperBound {
                var va = FloatVector(repeating: 0), vb = FloatVector(repeating: 0)
                let tail = range.upperBound - i
                for j in 0..<tail {
                    va[j] = pa.load(fromByteOffset: (i + j) * 4, as: Float.self)
                    vb[j] = pb.load(fromByteOffset: (i + j) * 4, as: Float.self)
                }
                let r = f(va, vb)
                for j in 0..<tail { po[i + j] = r[j] }
            }
        }
        return out
    }
}
