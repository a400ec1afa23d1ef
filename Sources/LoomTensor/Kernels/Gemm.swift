/// Mapping tensor views onto `cblas_sgemm` operands without copying: a 2-D view with unit stride on
/// either axis is a (possibly transposed) BLAS matrix with a leading dimension.
extension Kernels {
    struct GemmOperand {
        let pointer: UnsafePointer<Float>
        let transposed: Bool
        let ld: Int
    }

    /// Describes the matrix formed by the last two dims of `x` at element offset `base`, or nil if its
    /// strides fit neither layout (then the caller makes it contiguous).
    static func gemmOperand(_ x: Tensor, base: Int = 0) -> GemmOperand? {
        let r = x.rank
        let rows = x.shape[r - 2], cols = x.shape[r - 1]
        let rs = x.strides[r - 2], cs = x.strides[r - 1]
        let p = UnsafePointer(x.pointer + base)
        if (cs == 1 || cols == 1) && (rows == 1 || rs >= max(cols, 1)) {
            return GemmOperand(pointer: p, transposed: false, ld: rows == 1 ? max(cols, 1) : rs)
        }
        if (rs == 1 || rows == 1) && (cols == 1 || cs >= max(rows, 1)) {
            return GemmOperand(pointer: p, transposed: true, ld: cols == 1 ? max(rows, 1) : cs)
        }
        return nil
    }

    /// c[m, n] = alpha · A · B + beta · c for matrix views (A: [m, k], B: [k, n]); c is a dense
    /// row-major block with leading dimension `ldc`. `flipA`/`flipB` use Aᵀ/Bᵀ of the given views.
    static func gemm(_ a: GemmOperand, flipA: Bool = false, _ b: GemmOperand, flipB: Bool = false,
                     m: Int, n: Int, k: Int, alpha: Float = 1, beta: Float,
                     c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLAS.sgemm(transA: a.transposed != flipA, transB: b.transposed != flipB, m: m, n: n, k: k, alpha: alpha,
                   a: a.pointer, lda: a.ld, b: b.pointer, ldb: b.ld, beta: beta, c: c, ldc: ldc)
    }

    /// If the leading dims and rows of `x` lie evenly in memory (row-major rows, unit column stride),
    /// returns the operand for `x` viewed as [prod(leading)·rows, cols].
    static func foldedRows(_ x: Tensor) -> GemmOperand? {
        let r = x.rank
        guard r >= 2, x.strides[r - 1] == 1 || x.shape[r - 1] == 1 else { return nil }
        let rowStride = x.strides[r - 2]
        var expected = rowStride * x.shape[r - 2]
        for axis in stride(from: r - 3, through: 0, by: -1) where x.shape[axis] != 1 {
            if x.strides[axis] != expected { return nil }
            expected *= x.shape[axis]
        }
        let cols = x.shape[r - 1]
        let totalRows = x.shape.dropLast().reduce(1, *)
        if totalRows > 1 && rowStride < cols { return nil }
        return GemmOperand(pointer: UnsafePointer(x.pointer), transposed: false, ld: totalRows <= 1 ? max(cols, 1) : rowStride)
    }
}
