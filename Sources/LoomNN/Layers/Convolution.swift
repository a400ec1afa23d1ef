import LoomTensor

/// torch.nn.Conv1d (no dilation, no groups): weight [out, in, kernel].
public final class Conv1d: Module {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor?
    public let stride: Int, padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
        self.weight = Tensor(zeros: [outChannels, inChannels, kernelSize])
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    /// [B, Cin, L] → [B, Cout, Lout]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv1d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// torch.nn.Conv2d with stride = kernel and no padding, as vision transformers embed patches.
/// Stored like Conv2d (weight [out, in, P, P]); applied as a patch sequence [B, N, out].
public final class PatchConv2d: Module {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor?

    public init(_ inChannels: Int, _ outChannels: Int, patchSize: Int, bias: Bool = true) {
        self.weight = Tensor(zeros: [outChannels, inChannels, patchSize, patchSize])
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
    }

    /// [B, C, H, W] → [B, (H/P)·(W/P), out]
    public func callAsFunction(_ x: Tensor) -> Tensor { patchEmbedding(x, weight: weight, bias: bias) }
}
