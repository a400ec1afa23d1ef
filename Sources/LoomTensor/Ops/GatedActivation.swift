import CLoomKernels

/// act(gate) · up, the gated unit of LLaMA's MLP (SwiGLU when the activation is SiLU).
///
/// For SiLU it is one fused op: the forward pass reads gate and up once and writes the product (the
/// activation is never stored), and the backward pass reads g, gate and up once and writes both
/// gradients, in CLoomKernels (16 lanes on AVX-512). The values are bit-for-bit those of
/// `silu(gate) * up` and its gradients (the same float operations in the same order); other
/// activations take that composite path.
public func gatedActivation(_ activation: Activation, gate: Tensor, up: Tensor) -> Tensor {
    guard activation == .silu || activation == .swish, gate.shape == up.shape else { return activation(gate) * up }
    let g = gate.contiguousStorageView().detached(), u = up.contiguousStorageView().detached()
    let out = Tensor(uninitialized: g.shape)
    let (pg, pu, po) = (UnsafePointer(g.pointer), UnsafePointer(u.pointer), out.pointer)
    Threads.parallelFor(out.count, grain: 16384) { r in
        loom_silu_gate_forward(pg + r.lowerBound, pu + r.lowerBound, po + r.lowerBound, r.count)
    }
    keepAlive(g, u)
    // The backward closure must not hold `out` (its node holds the closure: a cycle that leaks the graph).
    let count = out.count
    return Tensor.record("silu_gate", out, inputs: [gate, up]) { grad in
        let dy = grad.contiguousStorageView()
        let dGate = Tensor(uninitialized: g.shape), dUp = Tensor(uninitialized: g.shape)
        let (pdy, pdg, pdu) = (UnsafePointer(dy.pointer), dGate.pointer, dUp.pointer)
        Threads.parallelFor(count, grain: 16384) { r in
            let i = r.lowerBound
            loom_silu_gate_backward(pdy + i, pg + i, pu + i, pdg + i, pdu + i, r.count)
        }
        keepAlive(dy, g, u)
        return [gate.needsGradient ? dGate : nil, up.needsGradient ? dUp : nil]
    }
}
