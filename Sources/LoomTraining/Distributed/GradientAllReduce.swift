import LoomTensor

/// Sums the trainable parameters' gradients over all ranks, in buckets of `bucketElements` floats
/// (one MPI_Allreduce per bucket), so every rank ends with the gradient of the whole global batch.
///
/// A parameter that got no gradient on any rank (its modality was in none of the step's samples)
/// keeps `grad == nil`, exactly as in a single process with the whole batch, so AdamW skips it the
/// same way; one that got a gradient on some ranks only is summed with zeros from the others.
public struct GradientAllReduce {
    public let communicator: Communicator
    public var bucketElements: Int
    /// Floats summed by the last `reduce` (what each rank sends and receives, per direction).
    public private(set) var lastElementCount = 0

    public init(communicator: Communicator, bucketElements: Int = 1 << 22) {
        self.communicator = communicator
        self.bucketElements = max(1, bucketElements)
    }

    public mutating func reduce(_ parameters: [Tensor]) throws {
        guard communicator.size > 1 else { return }
        // Which parameters have a gradient anywhere.
        let present = try communicator.allReduceSum(parameters.map { $0.grad == nil ? 0 : 1 })
        var active: [Tensor] = []
        for (parameter, count) in zip(parameters, present) where count > 0 {
            if parameter.grad == nil { parameter.grad = Tensor(zeros: parameter.shape) }
            active.append(parameter)
        }
        lastElementCount = active.reduce(0) { $0 + $1.grad!.count }
        var bucket = [Float](repeating: 0, count: min(bucketElements, max(lastElementCount, 1)))
        var pending: [Tensor] = [], filled = 0
        func flush() throws {
            guard filled > 0 else { return }
            try bucket.withUnsafeMutableBufferPointer { summed in
                try communicator.allReduceSum(UnsafeMutableBufferPointer(rebasing: summed[0..<filled]))
                var offset = 0
                for parameter in pending {
                    parameter.grad!.withUnsafeMutableBufferPointer { grad in
                        _ = grad.update(fromContentsOf: summed[offset..<(offset + grad.count)])
                        offset += grad.count
                    }
                }
            }
            pending = []; filled = 0
        }
        for parameter in active {
            let grad = parameter.grad!
            if grad.count > bucket.count {
                // Larger than a bucket: reduced in place on its own.
                try flush()
                try grad.withUnsafeMutableBufferPointer { try communicator.allReduceSum($0) }
                continue
            }
            if filled + grad.count > bucket.count { try flush() }
            bucket.withUnsafeMutableBufferPointer { dst in
                grad.withUnsafeBufferPointer { src in _ = UnsafeMutableBufferPointer(rebasing: dst[filled...]).update(fromContentsOf: src) }
            }
            filled += grad.count
            pending.append(parameter)
        }
        try flush()
    }
}
