/// Convolutions as GEMMs: conv1d through im2col (Whisper's front end), conv2d with stride = kernel as
/// patch extraction (ViT/CLIP patch embedding).

/// 1-D convolution, as torch.nn.functional.conv1d (no dilation, no groups).
/// x [B, Cin, L], weight [Cout, Cin, K], bias [Cout] → [B, Cout, Lout], Lout = (L + 2p − K) / s + 1.
public func conv1d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 3 && weight.rank == 3 && weight.shape[1] == x.shape[1],
                 "conv1d: input \(describe(x.shape)) does not fit weight \(describe(weight.shape))")
    precondition(stride >= 1 && padding >= 0, "conv1d: stride \(stride), padding \(padding)")
    let (b, cin, l) = (x.shape[0], x.shape[1], x.shape[2])
    let (cout, k) = (weight.shape[0], weight.shape[2])
    let lout = (l + 2 * padding - k) / stride + 1
    precondition(lout >= 1, "conv1d: input length \(l) too short for kernel \(k) with padding \(padding)")
    if let bias { precondition(bias.shape == [cout], "conv1d bias \(describe(bias.shape)) for \(cout) channels") }
    let xd = x.contiguousStorageView(), wd = weight.contiguousStorageView()
    defer { keepAlive(xd, wd) }
    let cols = Tensor(zeros: [b, cin * k, lout])  // im2col, kept for the weight gradient
    let xp = xd.pointer, cp = cols.pointer
    Threads.parallelFor(b * cin, grain: 1) { range in
        for bc in range {
            let src = xp + bc * l
            for kk in 0..<k {
                let dst = cp + (bc * k + kk) * lout  // row (c·K + kk) of sample b, since bc = b·Cin + c
                for t in 0..<lout {
                    let pos = t * stride + kk - padding
                    if pos >= 0 && pos < l { dst[t] = src[pos] }
                }
            }
        }
    }
    let out = Tensor(uninitialized: [b, cout, lout])
    let bd = bias?.contiguousStorageView()
    defer { if let bd { keepAlive(bd) } }
    for s in 0..<b {
        let o = out.pointer + s * cout * lout
        if let bd { for c in 0..<cout { (o + c * lout).update(repeating: bd.pointer[c], count: lout) } }
        BLAS.sgemm(transA: false, transB: false, m: cout, n: lout, k: cin * k, a: wd.pointer, lda: cin * k,
                   b: cp + s * cin * k * lout, ldb: lout, beta: bd == nil ? 0 : 1, c: o, ldc: lout)
    }
    let w = wd.detached()
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return Tensor.record("conv1d", out, inputs: inputs) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        var gx: Tensor?, gw: Tensor?, gb: Tensor?
        if weight.needsGradient {  // dW[Cout, Cin·K] = Σ_b dY[b] · colsᵀ[b]
            let grad = Tensor(zeros: weight.shape)
            for s in 0..<b {
                BLAS.sgemm(transA: false, transB: true, m: cout, n: cin * k, k: lout, a: gd.pointer + s * cout * lout, lda: lout,
                           b: cols.pointer + s * cin * k * lout, ldb: lout, beta: 1, c: grad.pointer, ldc: cin * k)
            }
            gw = grad
        }
        if x.needsGradient {  // dcols = Wᵀ · dY, then col2im
            let grad = Tensor(zeros: x.shape)
            let dcols = Tensor(uninitialized: [cin * k, lout])
            for s in 0..<b {
                BLAS.sgemm(transA: true, transB: false, m: cin * k, n: lout, k: cout, a: w.pointer, lda: cin * k,
                           b: gd.pointer + s * cout * lout, ldb: lout, beta: 0, c: dcols.pointer, ldc: lout)
                let gp = grad.pointer + s * cin * l, dp = dcols.pointer
                for c in 0..<cin {
                    for kk in 0..<k {
                        let row = dp + (c * k + kk) * lout
                        for t in 0..<lout {
                            let pos = t * stride + kk - padding
                            if pos >= 0 && pos < l { gp[c * l + pos] += row[t] }
                        }
                    }
                }
            }
            gx = grad
        }
        if let bias, bias.needsGradient {
            gb = Kernels.sumAxis(Kernels.sumAxis(gd, axis: 2, keepDim: false), axis: 0, keepDim: false)
        }
        return bias == nil ? [gx, gw] : [gx, gw, gb]
    }
}

/// Patch embedding: conv2d with stride = kernel = P and no padding, returned as a token sequence.
/// x [B, C, H, W], weight [D, C, P, P], bias [D] → [B, (H/P)·(W/P), D], patches in row-major grid
/// order — equal to conv2d(...).flatten(2).transpose(1, 2). Edge pixels past a whole patch are
/// dropped, as conv2d does.
public func patchEmbedding(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[1] == x.shape[1] && weight.shape[2] == weight.shape[3],
                 "patchEmbedding: input \(describe(x.shape)) does not fit weight \(describe(weight.shape))")
    let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (d, p) = (weight.shape[0], weight.shape[2])
    let (gh, gw) = (h / p, w / p)
    precondition(gh >= 1 && gw >= 1, "patchEmbedding: image \(h)×\(w) smaller than patch \(p)")
    let patchSize = c * p * p
    // patches[b·N + gy·gw + gx, (ch, py, px)] — the order of the weight's [C, P, P] flattening.
    let patches = Tensor(uninitialized: [b * gh * gw, patchSize])
    let xd = x.contiguousStorageView()
    defer { keepAlive(xd) }
    Kernels.movePatches(image: xd.pointer, patches: patches.pointer, b: b, c: c, h: h, w: w, p: p, toPatches: true)
    Tensor.record("patchify", patches, inputs: [x]) { g in
        let gd = g.contiguousStorageView()
        defer { keepAlive(gd) }
        let grad = Tensor(zeros: [b, c, h, w])  // pixels past the last whole patch get zero
        Kernels.movePatches(image: grad.pointer, patches: gd.pointer, b: b, c: c, h: h, w: w, p: p, toPatches: false)
        return [grad]
    }
    let tokens = linear(patches, weight: weight.reshaped([d, patchSize]), bias: bias)  // [B·N, D]
    return tokens.reshaped([b, gh * gw, d])
}

extension Kernels {
    /// Copies whole P×P patches between an image batch [B, C, H, W] and rows [B·N, C·P·P].
    static func movePatches(image: UnsafeMutablePointer<Float>, patches: UnsafeMutablePointer<Float>,
                            b: Int, c: Int, h: Int, w: Int, p: Int, toPatches: Bool) {
        let (gh, gw) = (h / p, w / p)
        let patchSize = c * p * p
        Threads.parallelFor(b * gh, grain: 1) { range in
            for bgy in range {
                let s = bgy / gh, gy = bgy % gh
                for gx in 0..<gw {
                    let row = patches + ((s * gh + gy) * gw + gx) * patchSize
                    for ch in 0..<c {
                        for py in 0..<p {
                            let pixels = image + ((s * c + ch) * h + gy * p + py) * w + gx * p
                            let slot = row + (ch * p + py) * p
                            if toPatches { slot.update(from: pixels, count: p) } else { pixels.update(from: slot, count: p) }
                        }
                    }
                }
            }
        }
    }
}
