import LoomTensor

/// The trainable parameters' gradients summed sample by sample in exact arithmetic (`ExactSum`), then
/// over the ranks with an integer all-reduce: what a stage with `reproducible_gradients: true` uses
/// instead of `GradientAllReduce`.
///
/// The model sees one sample at a time, so a sample's gradient does not depend on which other samples
/// share its batch (no padding, no batch-size-dependent GEMM blocking), and the exact sums do not
/// depend on the order. The weights after a step are then the same bits whether the global batch ran
/// on one rank with batch 2b, on two ranks with batch b, or as micro-batches of gradient
/// accumulation. The price: samples run one by one (smaller GEMMs), and each trainable value costs 40
/// bytes in the sum and in the all-reduce instead of 4.
public struct ExactGradients {
    public let communicator: Communicator
    private var sums: [ObjectIdentifier: ExactSum] = [:]
    /// Parameters with a gradient on this rank since the last `reduce`.
    private var touched = Set<ObjectIdentifier>()
    /// Gradient values and bytes all-reduced by the last `reduce` (what each rank sends and receives,
    /// per direction).
    public private(set) var lastElementCount = 0
    public private(set) var lastByteCount = 0

    public init(communicator: Communicator) {
        self.communicator = communicator
    }

    /// Moves each parameter's gradient (one sample's) into its exact sum and clears it.
    public mutating func collect(_ parameters: [Tensor]) {
        for parameter in parameters {
            guard let grad = parameter.grad else { continue }
            let key = ObjectIdentifier(parameter)
            if sums[key] == nil { sums[key] = ExactSum(count: grad.count) }
            grad.withUnsafeBufferPointer { sums[key]!.add($0) }
            touched.insert(key)
            parameter.grad = nil
        }
    }

    /// Sums over the ranks and sets every parameter's gradient to its rounded exact sum. A parameter
    /// with no gradient on any rank keeps `grad == nil` (as in `GradientAllReduce`). Returns false when
    /// a gradient is not finite (a term was infinite, NaN or beyond ±2⁵¹).
    public mutating func reduce(_ parameters: [Tensor]) throws -> Bool {
        let present = try communicator.allReduceSum(parameters.map { touched.contains(ObjectIdentifier($0)) ? 1 : 0 })
        var finite = true
        lastElementCount = 0
        lastByteCount = 0
        for (parameter, count) in zip(parameters, present) where count > 0 {
            let key = ObjectIdentifier(parameter)
            var sum = sums.removeValue(forKey: key) ?? ExactSum(count: parameter.count)
            if communicator.size > 1 {
                try sum.withUnsafeMutableStorage { try communicator.allReduceSum($0) }
                lastElementCount += sum.count
                lastByteCount += sum.storageByteCount
            }
            finite = finite && sum.isFinite
            let grad = Tensor(uninitialized: parameter.shape)
            grad.withUnsafeMutableBufferPointer { sum.values(into: $0) }
            parameter.grad = grad
            sum.clear()
            sums[key] = sum   // the buffer is reused next step
        }
        touched.removeAll(keepingCapacity: true)
        return finite
    }
}
