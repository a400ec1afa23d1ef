import LoomNN
import LoomTensor

/// Ultravox-style frame stacking: k consecutive encoder frames are concatenated (the sequence is
/// zero-padded to a multiple of k), then an MLP maps them to the LM width: linear_1 → GELU → linear_2
/// (→ `output_norm`, an RMSNorm, with that option).
public final class FrameStackConnector: Module, OutputScaledConnector {
    @Child("linear_1") public var linear1: Linear
    @Child("linear_2") public var linear2: Linear
    @Child("output_norm") public var outputNorm: RMSNorm?
    public let stack: Int

    public init(inputDim: Int, outputDim: Int, stack: Int, hidden: Int? = nil, outputNorm: Bool = false) {
        precondition(stack >= 1, "frame stacking needs k ≥ 1, got \(stack)")
        self.stack = stack
        super.init()
        _linear1.wrappedValue = Linear(inputDim * stack, hidden ?? outputDim)
        _linear2.wrappedValue = Linear(hidden ?? outputDim, outputDim)
        _outputNorm.wrappedValue = outputNorm ? RMSNorm(outputDim, eps: 1e-6) : nil
    }

    /// [B, N, D] → [B, ⌈N/k⌉, W]
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let (b, n, d) = (features.shape[0], features.shape[1], features.shape[2])
        let padded = n % stack == 0 ? features : concat([features, Tensor(zeros: [b, stack - n % stack, d])], axis: 1)
        let stacked = padded.contiguous().reshaped([b, padded.shape[1] / stack, stack * d])   // frames side by side
        let out = linear2(gelu(linear1(stacked)))
        return outputNorm.map { $0(out) } ?? out
    }

    public func outputTokenCount(inputTokens: Int) -> Int { (inputTokens + stack - 1) / stack }
}

/// Qwen-Audio-style average pooling over time (kernel = stride = s, remainder dropped as AvgPool1d
/// does), then a linear projection `proj`.
public final class AveragePoolConnector: Module, Connector {
    @Child public var proj: Linear
    public let pool: Int

    public init(inputDim: Int, outputDim: Int, pool: Int) {
        precondition(pool >= 1, "pooling needs s ≥ 1, got \(pool)")
        self.pool = pool
        proj = Linear(inputDim, outputDim)
    }

    /// [B, N, D] → [B, ⌊N/s⌋, W]
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let (b, n, d) = (features.shape[0], features.shape[1], features.shape[2])
        let kept = (n / pool) * pool
        precondition(kept > 0, "average pooling by \(pool) needs at least \(pool) frames, got \(n)")
        let windows = features.sliced(axis: 1, 0..<kept).contiguous().reshaped([b, kept / pool, pool, d])
        return proj(mean(windows, axis: 2))
    }

    public func outputTokenCount(inputTokens: Int) -> Int { inputTokens / pool }

    /// A window with any real frame counts.
    public func outputTokenCount(coveringInputs real: Int, of total: Int) -> Int {
        min((real + pool - 1) / pool, outputTokenCount(inputTokens: total))
    }
}
