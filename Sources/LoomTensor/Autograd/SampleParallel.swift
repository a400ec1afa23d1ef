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
/// What `body` must respect: it may read shared modules and tensors but not mutate them, and
/// everything it records stays within its shard's graph. A module that draws random numbers from a
/// generator of its own does so through `ShardRandomStreams` (LoRA dropout does); one that does not
/// must report `isStochastic` (LoomNN), and the trainer then runs the batch whole.
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
        let streams = (0..<shards).map { ShardRandomStreams(shard: $0) }
        var results = [Result<T, Error>?](repeating: nil, count: shards)
        BLAS.withSingleThreadedGEMM {
            results.withUnsafeMutableBufferPointer { slots in
                let slots = slots
                DispatchQueue.concurrentPerform(iterations: shards) { shard in
                    Threads.$isShardWorker.withValue(true) {
                        GradientSink.$current.withValue(sinks[shard]) {
                            ShardRandomStreams.$current.withValue(streams[shard]) {
                                slots[shard] = Result { try body(shard) }
                            }
                        }
                    }
                }
            }
        }
        for sink in sinks { sink?.flush() }
        ShardRandomStreams.advanceSources(streams)
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

/// A module that keeps a random generator of its own (LoRA dropout's) and draws from it in training:
/// inside a `SampleParallel` region each shard draws from a stream of its own instead
/// (`ShardRandomStreams`), and afterwards the module's generator moves past what the shards drew.
public protocol ShardedRandomSource: AnyObject {
    /// Moves the module's own generator past `draws` values.
    func advanceSharedGenerator(by draws: UInt64)
}

/// The random streams of one shard of a `SampleParallel` region: for each `ShardedRandomSource`, a
/// generator seeded from the source's own generator at the region's start and the shard's index.
/// So shards never share a generator, the masks do not depend on thread scheduling, and a gradient
/// checkpointing replay (which saves and restores the generator in use) replays the shard's draws.
public final class ShardRandomStreams: @unchecked Sendable {
    @TaskLocal public static var current: ShardRandomStreams?

    let shard: Int
    private var streams: [ObjectIdentifier: (source: ShardedRandomSource, generator: RandomGenerator)] = [:]

    init(shard: Int) { self.shard = shard }

    /// The generator `source` draws from on this shard; `base` is the source's own generator.
    public func generator(for source: ShardedRandomSource, base: RandomGenerator) -> RandomGenerator {
        let key = ObjectIdentifier(source)
        if let stream = streams[key] { return stream.generator }
        let seed = RandomGenerator.mix(RandomGenerator.mix(base.seed, base.offset), UInt64(shard))
        let generator = RandomGenerator(seed: seed)
        streams[key] = (source, generator)
        return generator
    }

    /// Stores the generator `source` goes on with on this shard.
    public func update(_ generator: RandomGenerator, for source: ShardedRandomSource) {
        streams[ObjectIdentifier(source)] = (source, generator)
    }

    /// After the region: every source's own generator moves past all the shards' draws from it.
    /// (Each source moves by its own total, so the order sources are visited in does not matter.)
    static func advanceSources(_ shards: [ShardRandomStreams]) {
        var totals: [ObjectIdentifier: (source: ShardedRandomSource, draws: UInt64)] = [:]
        for streams in shards {
            for (key, stream) in streams.streams {
                totals[key] = (stream.source, (totals[key]?.draws ?? 0) &+ stream.generator.offset)
            }
        }
        for (source, draws) in totals.values { source.advanceSharedGenerator(by: draws) }
    }
}
