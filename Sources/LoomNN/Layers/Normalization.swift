import LoomTensor

/// torch.nn.LayerNorm over the last dim.
public final class LayerNorm: Module {
    @Parameter public var weight: Tensor?
    @Parameter public var bias: Tensor?
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5, affine: Bool = true) {
        self.weight = affine ? Tensor(repeating: 1, shape: [dim]) : nil
        self.bias = affine ? Tensor(zeros: [dim]) : nil
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · weight.
public final class RMSNorm: Module {
    @Parameter public var weight: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-6) {
        self.weight = Tensor(repeating: 1, shape: [dim])
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight, eps: eps) }
}
