import Dispatch
import Foundation

/// Forward and backward of a batch split by samples across the cores: each shard runs on its own
/// thread with one-thread kernels and one-thread GEMMs, and the shards' parameter gradients are added
/// into `grad` afterwards in shard order.
///
/// Why: on a few cores the threaded path splits every op across the cores and meets at its end, and
/// each GEMM wakes OpenBLAS's workers; a small model's step then spends a good part of its time
/// waiting and handing off (BENCHMARKS.md, "Samples split across the cores"). A shard has no such
/// meeting points: its cores only meet once, when the step's gradients are summed.
///
/// The bits: shard 0 accumulates into the parameters' `grad` as a sequential run would, and every
/// other shard into a buffer of its own that is then added in shard order. A parameter that gets one
/// gradient per shard therefore ends with the bits of running the shards one after the other
/// (`grad = g0`, then `grad += g1`, ...), however the threads are scheduled.
///
/// What `body` must respect: it may read shared modules and tensors but not mutate them (random
/// generators included: callers keep stochastic layers out of a parallel region), and everything it
/// records stays within its shard's graph.
public enum SampleParallel {
    /// Shards a batch of `samples` should be split into: one per core, never more than the samples.
    public static func shardCount(samples: Int) -> Int {
        max(1, min(Threads.count, samples))
    }

    /// Runs `body(shard)` for every shard in `0..<shards`, concurrently when there are several and
    /// more than one core, and returns the results in shard order. The first error thrown (in shard
    /// order) is rethrown after all shards have finished; the gradients of the shards that finished
    /// are in `grad` then.
    public static func map<T>(_ shards: Int, _ body: (Int) throws -> T) throws -> [T] {
        guard shards > 1, Threads.count > 1 else { return try (0..<max(shards, 0)).map(body) }
        let sinks = (0..<shards).map { $0 == 0 ? nil : GradientSink() }
        var results = [Result<T, Error>?](repeating: nil, count: shards)
        BLAS.withSingleThreadedGEMM {
            results.withUnsafeMutableBufferPointer { slots in
                let slots = slots
                DispatchQueue.concurrentPerform(iterations: shards) { shard in
                    Threads.$isShardWorker.withValue(true) {
                        GradientSink.$current.withValue(sinks[shard]) {
                            slots[shard] = Result { try body(shard) }
                        }
                    }
                }
            }
        }
        for sink in sinks { sink?.flush() }
        return try results.map { try $0!.get() }
    }
}

/// Where a shard's leaf gradients go instead of the leaves' `grad` (which shard 0 owns).
final class GradientSink: @unchecked Sendable {
    @TaskLocal static var current: GradientSink?

    private var entries: [(leaf: Tensor, gradient: Tensor)] = []
    private var index: [ObjectIdentifier: Int] = [:]
    private var local: Set<ObjectIdentifier> = []

    /// `leaf` was made inside the shard and its own backward reads `leaf.grad` (a recomputed layer's
    /// input): its gradient goes to `grad` as usual.
    func keepLocal(_ leaf: Tensor) { local.insert(ObjectIdentifier(leaf)) }
    func forget(_ leaf: Tensor) { local.remove(ObjectIdentifier(leaf)) }
    func isLocal(_ leaf: Tensor) -> Bool { !local.isEmpty && local.contains(ObjectIdentifier(leaf)) }

    /// Called from the one thread that owns this sink.
    func accumulate(_ gradient: Tensor, for leaf: Tensor) {
        if let slot = index[ObjectIdentifier(leaf)] {
            Kernels.addInPlace(entries[slot].gradient, gradient)
        } else {
            index[ObjectIdentifier(leaf)] = entries.count
            entries.append((leaf, Kernels.copyStrided(gradient)))
        }
    }

    /// Adds the collected gradients into the leaves' `grad`, then forgets them.
    func flush() {
        for (leaf, gradient) in entries {
            if leaf.grad == nil { leaf.grad = gradient } else { leaf.accumulateLeafGradient(gradient) }
        }
        entries = []
        index = [:]
    }
}
