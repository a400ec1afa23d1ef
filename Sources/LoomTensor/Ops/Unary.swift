import CLoomKernels
import Foundation

/// Pointwise functions and activations, each with its derivative beside it.
/// The activations follow transformers' `ACT2FN`: "gelu" (erf), "gelu_pytorch_tanh"/"gelu_new" (tanh),
/// "quick_gelu", "silu".

/// Records a pointwise op whose gradient is `g · f'(x)`, computed from the saved input.
private func pointwise(_ name: String, _ x: Tensor, forward: @escaping (FloatVector) -> FloatVector,
                       derivative: @escaping (FloatVector) -> FloatVector) -> Tensor {
    let out = Kernels.mapDense(x, forward)
    let saved = x.detached()
    return Tensor.record(name, out, inputs: [x]) { g in
        [Kernels.zipDense(g, saved) { gv, xv in gv * derivative(xv) }]
    }
}

public func exp(_ x: Tensor) -> Tensor {
    let out = Kernels.mapDense(x) { Kernels.exp($0) }
    let saved = out.detached()
    return Tensor.record("exp", out, inputs: [x]) { g in [Kernels.binary(g, saved, .multiply)] }
}

public func log(_ x: Tensor) -> Tensor {
    let out = Kernels.mapScalar(x) { Foundation.log($0) }
    let saved = x.detached()
    return Tensor.record("log", out, inputs: [x]) { g in [Kernels.binary(g, saved, .divide)] }
}

public func sqrt(_ x: Tensor) -> Tensor {
    let out = Kernels.mapDense(x) { $0.squareRoot() }
    let saved = out.detached()
    return Tensor.record("sqrt", out, inputs: [x]) { g in
        [Kernels.zipDense(g, saved) { gv, yv in gv / (2 * yv) }]
    }
}

public func square(_ x: Tensor) -> Tensor {
    pointwise("square", x, forward: { $0 * $0 }, derivative: { 2 * $0 })
}

public func tanh(_ x: Tensor) -> Tensor {
    let out = Kernels.mapDense(x) { Kernels.tanh($0) }
    let saved = out.detached()
    return Tensor.record("tanh", out, inputs: [x]) { g in
        [Kernels.zipDense(g, saved) { gv, yv in gv * (1 - yv * yv) }]
    }
}

public func sigmoid(_ x: Tensor) -> Tensor {
    let out = Kernels.mapDense(x) { Kernels.sigmoid($0) }
    let saved = out.detached()
    return Tensor.record("sigmoid", out, inputs: [x]) { g in
        [Kernels.zipDense(g, saved) { gv, yv in gv * yv * (1 - yv) }]
    }
}

public func relu(_ x: Tensor) -> Tensor {
    pointwise("relu", x, forward: { $0.replacing(with: 0, where: $0 .< 0) },
              derivative: { FloatVector(repeating: 1).replacing(with: 0, where: $0 .<= 0) })
}

/// x·σ(x) (SiLU / swish), the LLaMA MLP activation.
public func silu(_ x: Tensor) -> Tensor {
    pointwise("silu", x, forward: { $0 * Kernels.sigmoid($0) },
              derivative: { v in let s = Kernels.sigmoid(v); return s * (1 + v * (1 - s)) })
}

/// x·σ(1.702·x), CLIP's activation ("quick_gelu").
public func quickGELU(_ x: Tensor) -> Tensor {
    // The forward runs in CLoomKernels (16 lanes on AVX-512), the same bits as x · σ(1.702 x) here.
    let src = x.contiguousStorageView()
    let out = Tensor(uninitialized: x.shape)
    let (ps, po) = (UnsafePointer(src.pointer), out.pointer)
    Threads.parallelFor(x.count, grain: 16384) { r in loom_quick_gelu_forward(ps + r.lowerBound, po + r.lowerBound, r.count) }
    keepAlive(src)
    let saved = x.detached()
    return Tensor.record("quick_gelu", out, inputs: [x]) { g in
        [Kernels.zipDense(g, saved) { gv, v in let s = Kernels.sigmoid(1.702 * v); return gv * (s + 1.702 * v * s * (1 - s)) }]
    }
}

/// GELU with the tanh approximation ("gelu_pytorch_tanh", "gelu_new").
public func geluTanh(_ x: Tensor) -> Tensor {
    let c: Float = 0.7978845608028654  // √(2/π)
    let a: Float = 0.044715
    @inline(__always) func inner(_ v: FloatVector) -> FloatVector {
        let v3: FloatVector = v * v * v
        return c * (v + a * v3)
    }
    return pointwise("gelu_tanh", x, forward: { v in
        let t = Kernels.tanh(inner(v))
        return 0.5 * v * (1 + t)
    }, derivative: { v in
        let t = Kernels.tanh(inner(v))
        let dInner: FloatVector = c * (1 + 3 * a * v * v)
        let left: FloatVector = 0.5 * (1 + t)
        let right: FloatVector = 0.5 * v * (1 - t * t) * dInner
        return left + right
    })
}

/// Exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)) ("gelu"), as torch.nn.functional.gelu.
public func gelu(_ x: Tensor) -> Tensor {
    pointwise("gelu", x, forward: { v in
        0.5 * v * (1 + Kernels.erf(v * 0.70710678118654752))
    }, derivative: { v in
        let cdf: FloatVector = 0.5 * (1 + Kernels.erf(v * 0.70710678118654752))
        return cdf + v * Kernels.exp(-0.5 * v * v) * 0.3989422804014327
    })
}

/// Activation by its Hugging Face config name (`hidden_act`).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case gelu, geluNew = "gelu_new", geluPytorchTanh = "gelu_pytorch_tanh", quickGELU = "quick_gelu"
    case silu, swish, relu, tanh

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return LoomTensor.gelu(x)
        case .geluNew, .geluPytorchTanh: return geluTanh(x)
        case .quickGELU: return LoomTensor.quickGELU(x)
        case .silu, .swish: return LoomTensor.silu(x)
        case .relu: return LoomTensor.relu(x)
        case .tanh: return LoomTensor.tanh(x)
        }
    }
}

extension Kernels {
    /// Scalar map for functions without a SIMD form (log), threaded.
    static func mapScalar(_ x: Tensor, _ f: @escaping (Float) -> Float) -> Tensor {
        let src = x.contiguousStorageView()
        defer { keepAlive(src) }
        let out = Tensor(uninitialized: x.shape)
        let ps = UnsafePointer(src.pointer), po = out.pointer
        Threads.parallelFor(x.count, grain: 8192) { range in
            for i in range { po[i] = f(ps[i]) }
        }
        return out
    }
}
