/// Matrix products through `cblas_sgemm`. Transposed views are passed as BLAS transpose flags, never
/// copied; batch dims broadcast; a batch of rows against one shared matrix folds into a single GEMM.

extension Kernels {
    /// c[batch…] (+)= op(a[batch…]) · op(b[batch…]) where every operand's batch dims are read through
    /// the given strides over `batchShape` (0 = broadcast; on c, 0 means accumulate). c is dense.
    static func gemmBatched(batchShape: [Int], _ a: Tensor, _ aBatch: [Int], flipA: Bool,
                            _ b: Tensor, _ bBatch: [Int], flipB: Bool,
                            _ c: Tensor, _ cBatch: [Int], m: Int, n: Int, k: Int, beta: Float) {
        let a = gemmOperand(a) == nil ? copyStrided(a) : a
        let b = gemmOperand(b) == nil ? copyStrided(b) : b
        let batches = batchShape.reduce(1, *)
        let ldc = c.strides[c.rank - 1] == 1 ? c.strides[c.rank - 2] : n
        let cp = c.pointer
        var index = [Int](repeating: 0, count: batchShape.count)
        for _ in 0..<batches {
            var ao = 0, bo = 0, co = 0
            for (axis, i) in index.enumerated() {
                ao += i * aBatch[axis]; bo += i * bBatch[axis]; co += i * cBatch[axis]
            }
            gemm(gemmOperand(a, base: ao)!, flipA: flipA, gemmOperand(b, base: bo)!, flipB: flipB,
                 m: m, n: n, k: k, beta: beta, c: cp + co, ldc: max(ldc, 1))
            for axis in stride(from: batchShape.count - 1, through: 0, by: -1) {
                index[axis] += 1
                if index[axis] < batchShape[axis] { break }
                index[axis] = 0
            }
        }
    }

    /// Strides of `x`'s batch dims (all but the last two), broadcast to `batchShape`.
    static func batchStrides(_ x: Tensor, _ batchShape: [Int]) -> [Int] {
        let own = Array(x.shape.dropLast(2))
        let pad = batchShape.count - own.count
        var strides = [Int](repeating: 0, count: batchShape.count)
        for (i, size) in own.enumerated() where size != 1 { strides[pad + i] = x.strides[i] }
        return strides
    }
}

/// Matrix product with NumPy semantics for rank ≥ 2: [..., m, k] · [..., k, n] → [..., m, n].
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    // Operands kept in bfloat16 are frozen leaves: widened copies compute the same product.
    if a.isBFloat16 || b.isBFloat16 {
        return matmul(a.isBFloat16 ? Kernels.copyStrided(a) : a, b.isBFloat16 ? Kernels.copyStrided(b) : b)
    }
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2, got \(describe(a.shape)) and \(describe(b.shape))")
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
    precondition(b.shape[b.rank - 2] == k, "matmul: inner dims differ in \(describe(a.shape)) · \(describe(b.shape))")
    let batchShape = Kernels.broadcastShape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
    let out = Tensor(uninitialized: batchShape + [m, n])
    let sharedB = b.rank == 2 || b.shape.dropLast(2).allSatisfy { $0 == 1 }

    if sharedB, a.shape.dropLast(2).elementsEqual(batchShape), let folded = Kernels.foldedRows(a),
       let bOp = Kernels.gemmOperand(Tensor(storage: b.storage, shape: [k, n], strides: Array(b.strides.suffix(2)), offset: b.offset)) {
        Kernels.gemm(folded, bOp, m: batchShape.reduce(1, *) * m, n: n, k: k, beta: 0, c: out.pointer, ldc: n)
    } else {
        Kernels.gemmBatched(batchShape: batchShape, a, Kernels.batchStrides(a, batchShape), flipA: false,
                            b, Kernels.batchStrides(b, batchShape), flipB: false,
                            out, Kernels.batchStrides(out, batchShape), m: m, n: n, k: k, beta: 0)
    }

    let (sa, sb) = (a.detached(), b.detached())
    return Tensor.record("matmul", out, inputs: [a, b]) { g in
        var ga: Tensor?, gb: Tensor?
        if a.needsGradient {  // dA = dC · Bᵀ, summed over dims where A was broadcast
            let grad = Tensor(zeros: sa.shape)
            Kernels.gemmBatched(batchShape: batchShape, g, Kernels.batchStrides(g, batchShape), flipA: false,
                                sb, Kernels.batchStrides(sb, batchShape), flipB: true,
                                grad, Kernels.batchStrides(grad, batchShape), m: m, n: k, k: n, beta: 1)
            ga = grad
        }
        if b.needsGradient {  // dB = Aᵀ · dC
            let grad = Tensor(zeros: sb.shape)
            if sharedB, sa.shape.dropLast(2).elementsEqual(batchShape), let fa = Kernels.foldedRows(sa),
               let fg = Kernels.foldedRows(g) {
                let rows = batchShape.reduce(1, *) * m
                Kernels.gemm(fa, flipA: true, fg, m: k, n: n, k: rows, beta: 0, c: grad.pointer, ldc: n)
            } else {
                Kernels.gemmBatched(batchShape: batchShape, sa, Kernels.batchStrides(sa, batchShape), flipA: true,
                                    g, Kernels.batchStrides(g, batchShape), flipB: false,
                                    grad, Kernels.batchStrides(grad, batchShape), m: k, n: n, k: m, beta: 1)
            }
            gb = grad
        }
        return [ga, gb]
    }
}

/// y = x · Wᵀ + b for x [..., in], weight [out, in] (stored as in PyTorch), bias [out].
/// One GEMM forward; backward runs dX = dY · W always (if needed) and dW = dYᵀ · X only when the
/// weight trains, so a frozen layer costs one GEMM in backward.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    precondition(weight.rank == 2, "linear weight must be [out, in], got \(describe(weight.shape))")
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    precondition(x.rank >= 1 && x.shape[x.rank - 1] == inFeatures,
                 "linear: input \(describe(x.shape)) does not end in \(inFeatures) (weight \(describe(weight.shape)))")
    if let bias { precondition(bias.shape == [outFeatures], "linear bias \(describe(bias.shape)) for weight \(describe(weight.shape))") }
    let x2 = x.rank == 1 ? x.reshaped([1, inFeatures]) : x
    let rows = x2.shape.dropLast().reduce(1, *)
    let outShape = Array(x.shape.dropLast()) + [outFeatures]
    let out = Tensor(uninitialized: outShape)
    var beta: Float = 0
    if let bias {
        let bd = bias.contiguousStorageView()
        defer { keepAlive(bd) }
        let op = out.pointer
        for r in 0..<rows { (op + r * outFeatures).update(from: bd.pointer, count: outFeatures) }
        beta = 1
    }
    let xs = Kernels.foldedRows(x2) == nil ? Kernels.copyStrided(x2) : x2.detached()
    // A weight kept in bfloat16 is widened block by block inside the GEMMs, forward and backward; it
    // never exists in Float32 as a whole.
    let compact = weight.isBFloat16 && weight.isContiguous ? weight.detached() : nil
    let wDense: Tensor?
    if compact != nil {
        wDense = nil
    } else if weight.isBFloat16 || Kernels.gemmOperand(weight) == nil {
        wDense = Kernels.copyStrided(weight)  // a dense Float32 copy (widened, for a bfloat16 view)
    } else {
        wDense = weight.detached()
    }
    defer { keepAlive(wDense) }
    if rows > 0 {
        if let compact {
            Kernels.gemmBFloat16WeightTransposed(Kernels.foldedRows(xs)!, compact, rows: rows, beta: beta,
                                                 c: out.pointer, ldc: outFeatures)
        } else {
            Kernels.gemm(Kernels.foldedRows(xs)!, Kernels.gemmOperand(wDense!)!, flipB: true, m: rows, n: outFeatures,
                         k: inFeatures, beta: beta, c: out.pointer, ldc: outFeatures)
        }
    }

    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return Tensor.record("linear", out, inputs: inputs) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        let gOp = Kernels.foldedRows(gd)!
        var gx: Tensor?, gw: Tensor?, gb: Tensor?
        if x.needsGradient {
            let grad = Tensor(uninitialized: x.shape)
            if let compact {
                Kernels.gemmBFloat16Weight(gOp, compact, rows: rows, c: grad.pointer, ldc: inFeatures)
            } else {
                Kernels.gemm(gOp, Kernels.gemmOperand(wDense!)!,
                             m: rows, n: inFeatures, k: outFeatures, beta: 0, c: grad.pointer, ldc: inFeatures)
            }
            gx = grad
        }
        if weight.needsGradient {
            let grad = Tensor(uninitialized: [outFeatures, inFeatures])
            Kernels.gemm(gOp, flipA: true, Kernels.foldedRows(xs)!, m: outFeatures, n: inFeatures, k: rows,
                         beta: 0, c: grad.pointer, ldc: inFeatures)
            gw = grad
        }
        if let bias, bias.needsGradient {
            gb = Kernels.sumAxis(Kernels.reshapedData(gd, [rows, outFeatures]), axis: 0, keepDim: false)
        }
        return bias == nil ? [gx, gw] : [gx, gw, gb]
    }
}

/// base + scale · x·Wᵀ in one GEMM (beta = 1 onto a copy of `base`), as LoRA's output
/// y + scale · B(A(x)) needs: no separate scaling and addition passes over [..., out], forward or
/// backward. x [..., in], weight [out, in], base [..., out].
public func addingScaledLinear(_ base: Tensor, _ x: Tensor, weight: Tensor, scale: Float) -> Tensor {
    precondition(weight.rank == 2, "linear weight must be [out, in], got \(describe(weight.shape))")
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    if x.rank == 1 {
        return addingScaledLinear(base.reshaped([1, outFeatures]), x.reshaped([1, inFeatures]), weight: weight, scale: scale)
            .reshaped([outFeatures])
    }
    precondition(x.rank >= 2 && x.shape.last == inFeatures && base.shape == Array(x.shape.dropLast()) + [outFeatures],
                 "addingScaledLinear: base \(describe(base.shape)), input \(describe(x.shape)), weight \(describe(weight.shape))")
    let rows = x.shape.dropLast().reduce(1, *)
    let out = Kernels.copyStrided(base)
    let xs = Kernels.foldedRows(x) == nil ? Kernels.copyStrided(x) : x.detached()
    let w = weight.isBFloat16 || Kernels.gemmOperand(weight) == nil ? Kernels.copyStrided(weight) : weight.detached()
    defer { keepAlive(w) }
    if rows > 0 {
        Kernels.gemm(Kernels.foldedRows(xs)!, Kernels.gemmOperand(w)!, flipB: true, m: rows, n: outFeatures, k: inFeatures,
                     alpha: scale, beta: 1, c: out.pointer, ldc: outFeatures)
    }
    return Tensor.record("adding_scaled_linear", out, inputs: [base, x, weight]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd, xs, w) }
        let gOp = Kernels.foldedRows(gd)!
        var gx: Tensor?, gw: Tensor?
        if x.needsGradient {
            let grad = Tensor(uninitialized: x.shape)
            Kernels.gemm(gOp, Kernels.gemmOperand(w)!, m: rows, n: inFeatures, k: outFeatures, alpha: scale,
                         beta: 0, c: grad.pointer, ldc: inFeatures)
            gx = grad
        }
        if weight.needsGradient {
            let grad = Tensor(uninitialized: [outFeatures, inFeatures])
            Kernels.gemm(gOp, flipA: true, Kernels.foldedRows(xs)!, m: outFeatures, n: inFeatures, k: rows, alpha: scale,
                         beta: 0, c: grad.pointer, ldc: inFeatures)
            gw = grad
        }
        return [base.needsGradient ? gd : nil, gx, gw]
    }
}
