/// act(gate) · up, the gated unit of LLaMA's MLP (SwiGLU when the activation is SiLU).
///
/// For SiLU it is one fused op: the forward pass reads gate and up once and writes the product (the
/// activation is never stored), and the backward pass reads g, gate and up once and writes both
/// gradients. The values are bit-for-bit those of `silu(gate) * up` and its gradients (the same float
/// operations in the same order); other activations take that composite path.
public func gatedActivation(_ activation: Activation, gate: Tensor, up: Tensor) -> Tensor {
    guard activation == .silu || activation == .swish, gate.shape == up.shape else { return activation(gate) * up }
    let g = gate.contiguousStorageView().detached(), u = up.contiguousStorageView().detached()
    let out = Kernels.zipDense(g, u) { x, y in x * Kernels.sigmoid(x) * y }
    return Tensor.record("silu_gate", out, inputs: [gate, up]) { grad in
        let dGate = Tensor(uninitialized: g.shape), dUp = Tensor(uninitialized: g.shape)
        Kernels.zip3Dense(grad.contiguousStorageView(), g, u, into: dGate, dUp) { dy, x, y in
            let s = Kernels.sigmoid(x)
            return (dy * y * (s * (1 + x * (1 - s))), dy * (x * s))
        }
        return [gate.needsGradient ? dGate : nil, up.needsGradient ? dUp : nil]
    }
}

extension Kernels {
    /// `(first[i], second[i]) = f(a[i], b[i], c[i])` over dense tensors of one count, 16 lanes at a time,
    /// threaded; the tail is padded with zeros. The two-input, one-output form is `zipDense`.
    static func zip3Dense(_ a: Tensor, _ b: Tensor, _ c: Tensor, into first: Tensor, _ second: Tensor,
                          _ f: @escaping (FloatVector, FloatVector, FloatVector) -> (FloatVector, FloatVector)) {
        let count = first.count
        precondition([a, b, c, second].allSatisfy { $0.count == count && $0.isContiguous } && first.isContiguous)
        defer { keepAlive(a, b, c, first, second) }
        let pa = UnsafeRawPointer(a.pointer), pb = UnsafeRawPointer(b.pointer), pc = UnsafeRawPointer(c.pointer)
        let p1 = UnsafeMutableRawPointer(first.pointer), p2 = UnsafeMutableRawPointer(second.pointer)
        Threads.parallelFor(count, grain: 16384) { range in
            var i = range.lowerBound
            while i + 16 <= range.upperBound {
                let offset = i * 4
                let r = f(pa.loadUnaligned(fromByteOffset: offset, as: FloatVector.self),
                          pb.loadUnaligned(fromByteOffset: offset, as: FloatVector.self),
                          pc.loadUnaligned(fromByteOffset: offset, as: FloatVector.self))
                p1.storeBytes(of: r.0, toByteOffset: offset, as: FloatVector.self)
                p2.storeBytes(of: r.1, toByteOffset: offset, as: FloatVector.self)
                i += 16
            }
            guard i < range.upperBound else { return }
            var va = FloatVector(), vb = FloatVector(), vc = FloatVector()
            for j in 0..<(range.upperBound - i) {
                let offset = (i + j) * 4
                va[j] = pa.load(fromByteOffset: offset, as: Float.self)
                vb[j] = pb.load(fromByteOffset: offset, as: Float.self)
                vc[j] = pc.load(fromByteOffset: offset, as: Float.self)
            }
            let r = f(va, vb, vc)
            for j in 0..<(range.upperBound - i) {
                p1.storeBytes(of: r.0[j], toByteOffset: (i + j) * 4, as: Float.self)
                p2.storeBytes(of: r.1[j], toByteOffset: (i + j) * 4, as: Float.self)
            }
        }
    }
}
