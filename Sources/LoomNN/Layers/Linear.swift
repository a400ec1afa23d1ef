import LoomTensor

/// y = x·Wᵀ + b, weight stored [out, in] as in PyTorch checkpoints.
public final class Linear: Module {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }
}

/// A token embedding table [count, dim].
public final class Embedding: Module {
    @Parameter public var weight: Tensor
    /// Row that gets no gradient (nn.Embedding's padding_idx).
    public var paddingIndex: Int?

    public init(_ count: Int, _ dim: Int, paddingIndex: Int? = nil) {
        self.weight = Tensor(zeros: [count, dim])
        self.paddingIndex = paddingIndex
    }

    public func callAsFunction(_ ids: IntTensor) throws -> Tensor {
        try embedding(ids, weight: weight, paddingIndex: paddingIndex)
    }
}
