/// PEFT's `lora.Linear` as one op: y = x·Wᵀ + b + scale · (u·Aᵀ)·Bᵀ, where u is the LoRA path's
/// input (dropout(x) in training, or x itself). x [..., in], weight [out, in], bias [out], loraA
/// [r, in], loraB [out, r]; x may also be one vector [in].
///
/// What the one op saves over `linear` + `linear` + `addingScaledLinear`: the up-projection lands on
/// the base GEMM's output (beta = 1) instead of on a copy of it, and when u is x, backward adds the
/// LoRA path's dU = dH·A into the base path's dX = dY·W inside the second GEMM (beta = 1) instead of
/// making a second [..., in] gradient that autograd then adds. The products and their order are the
/// composed ops' (a test compares the bits). A base weight kept in bfloat16, or one whose strides fit
/// no GEMM, takes the composed ops.
public func loraLinear(_ x: Tensor, weight: Tensor, bias: Tensor?, loraInput u: Tensor, loraA: Tensor, loraB: Tensor,
                       scale: Float) -> Tensor {
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0], rank = loraA.shape[0]
    if x.rank == 1 {                       // one vector: as one row, keeping u's identity with x
        let row = x.reshaped([1, inFeatures])
        return loraLinear(row, weight: weight, bias: bias, loraInput: u === x ? row : u.reshaped([1, inFeatures]),
                          loraA: loraA, loraB: loraB, scale: scale).reshaped([outFeatures])
    }
    precondition(weight.rank == 2 && loraA.shape == [rank, inFeatures] && loraB.shape == [outFeatures, rank]
                 && u.shape == x.shape && x.rank >= 2 && x.shape.last == inFeatures,
                 "loraLinear: input \(describe(x.shape)), weight \(describe(weight.shape)), A \(describe(loraA.shape)), B \(describe(loraB.shape))")
    if let bias { precondition(bias.shape == [outFeatures], "linear bias \(describe(bias.shape)) for weight \(describe(weight.shape))") }
    guard !weight.isBFloat16, Kernels.gemmOperand(weight) != nil else {
        return addingScaledLinear(linear(x, weight: weight, bias: bias), linear(u, weight: loraA), weight: loraB, scale: scale)
    }
    let sameInput = u === x
    let rows = x.shape.dropLast().reduce(1, *)
    let xs = Kernels.foldedRows(x) == nil ? Kernels.copyStrided(x) : x.detached()
    let us = sameInput ? xs : (Kernels.foldedRows(u) == nil ? Kernels.copyStrided(u) : u.detached())
    let dense = { (t: Tensor) in Kernels.gemmOperand(t) == nil || t.isBFloat16 ? Kernels.copyStrided(t) : t.detached() }
    let w = weight.detached(), a = dense(loraA), b = dense(loraB)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outFeatures])
    let h = Tensor(uninitialized: [rows, rank])                                       // u·Aᵀ, kept for dB
    if rows > 0 {
        var beta: Float = 0
        if let bias {
            let bd = bias.contiguousStorageView()
            defer { keepAlive(bd) }
            for r in 0..<rows { (out.pointer + r * outFeatures).update(from: bd.pointer, count: outFeatures) }
            beta = 1
        }
        Kernels.gemm(Kernels.foldedRows(xs)!, Kernels.gemmOperand(w)!, flipB: true, m: rows, n: outFeatures,
                     k: inFeatures, beta: beta, c: out.pointer, ldc: outFeatures)
        Kernels.gemm(Kernels.foldedRows(us)!, Kernels.gemmOperand(a)!, flipB: true, m: rows, n: rank, k: inFeatures,
                     beta: 0, c: h.pointer, ldc: rank)
        Kernels.gemm(Kernels.foldedRows(h)!, Kernels.gemmOperand(b)!, flipB: true, m: rows, n: outFeatures, k: rank,
                     alpha: scale, beta: 1, c: out.pointer, ldc: outFeatures)
    }

    let tail = [weight, loraA, loraB] + (bias.map { [$0] } ?? [])
    let inputs = sameInput ? [x] + tail : [x, u] + tail
    return Tensor.record("lora_linear", out, inputs: inputs) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd, xs, us, w, a, b, h) }
        let gOp = Kernels.foldedRows(gd)!
        let uNeeds = sameInput ? x.needsGradient : u.needsGradient
        var dh: Tensor?                                                              // scale · dY·B
        if uNeeds || loraA.needsGradient {
            let t = Tensor(uninitialized: [rows, rank])
            Kernels.gemm(gOp, Kernels.gemmOperand(b)!, m: rows, n: rank, k: outFeatures, alpha: scale, beta: 0,
                         c: t.pointer, ldc: rank)
            dh = t
        }
        var gx: Tensor?, gu: Tensor?, gw: Tensor?, ga: Tensor?, gb: Tensor?, gbias: Tensor?
        if x.needsGradient {
            let grad = Tensor(uninitialized: x.shape)
            Kernels.gemm(gOp, Kernels.gemmOperand(w)!, m: rows, n: inFeatures, k: outFeatures, beta: 0,
                         c: grad.pointer, ldc: inFeatures)
            if sameInput, let dh {
                Kernels.gemm(Kernels.foldedRows(dh)!, Kernels.gemmOperand(a)!, m: rows, n: inFeatures, k: rank, beta: 1,
                             c: grad.pointer, ldc: inFeatures)
            }
            gx = grad
        }
        if !sameInput, u.needsGradient, let dh {
            let grad = Tensor(uninitialized: u.shape)
            Kernels.gemm(Kernels.foldedRows(dh)!, Kernels.gemmOperand(a)!, m: rows, n: inFeatures, k: rank, beta: 0,
                         c: grad.pointer, ldc: inFeatures)
            gu = grad
        }
        if weight.needsGradient {
            let grad = Tensor(uninitialized: [outFeatures, inFeatures])
            Kernels.gemm(gOp, flipA: true, Kernels.foldedRows(xs)!, m: outFeatures, n: inFeatures, k: rows, beta: 0,
                         c: grad.pointer, ldc: inFeatures)
            gw = grad
        }
        if loraA.needsGradient, let dh {
            let grad = Tensor(uninitialized: [rank, inFeatures])
            Kernels.gemm(Kernels.foldedRows(dh)!, flipA: true, Kernels.foldedRows(us)!, m: rank, n: inFeatures, k: rows,
                         beta: 0, c: grad.pointer, ldc: inFeatures)
            ga = grad
        }
        if loraB.needsGradient {
            let grad = Tensor(uninitialized: [outFeatures, rank])
            Kernels.gemm(gOp, flipA: true, Kernels.foldedRows(h)!, m: outFeatures, n: rank, k: rows, alpha: scale, beta: 0,
                         c: grad.pointer, ldc: rank)
            gb = grad
        }
        if let bias, bias.needsGradient {
            gbias = Kernels.sumAxis(Kernels.reshapedData(gd, [rows, outFeatures]), axis: 0, keepDim: false)
        }
        let tailGrads: [Tensor?] = [gw, ga, gb] + (bias == nil ? [] : [gbias])
        return (sameInput ? [gx] : [gx, gu]) + tailGrads
    }
}
