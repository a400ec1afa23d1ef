import Dispatch
import Foundation
import LoomTensor

/// Where a run stands in its data: epoch and the next batch within it. Saved in checkpoints.
public struct DataPosition: Codable, Equatable, Sendable {
    public var epoch: Int
    public var batch: Int

    public init(epoch: Int = 0, batch: Int = 0) {
        self.epoch = epoch
        self.batch = batch
    }
}

/// Batches for training: a seeded order per epoch, media decoded and preprocessed on a background
/// thread ahead of the consumer, bad samples skipped with counted warnings (or fatal when strict).
public final class DataLoader {
    public struct Options: Sendable {
        public var batchSize: Int
        public var seed: UInt64
        public var groupByModalityLength: Bool
        /// Batches prepared ahead of the consumer.
        public var prefetch: Int
        /// Fail at the first bad sample instead of skipping it.
        public var strict: Bool

        /// Data-parallel sharding: this process is rank `shardRank` of `shardCount`. Batches are then
        /// drawn `batchSize × shardCount` at a time (the global batch, in the order one process would
        /// draw a batch that size) and each rank loads only its own `batchSize` slice of each.
        public var shardRank: Int
        public var shardCount: Int

        public init(batchSize: Int, seed: UInt64 = 0, groupByModalityLength: Bool = false, prefetch: Int = 2, strict: Bool = false,
                    shardRank: Int = 0, shardCount: Int = 1) {
            self.batchSize = batchSize
            self.seed = seed
            self.groupByModalityLength = groupByModalityLength
            self.prefetch = prefetch
            self.strict = strict
            self.shardRank = shardRank
            self.shardCount = shardCount
        }

        /// Samples per batch over all ranks.
        public var globalBatchSize: Int { batchSize * shardCount }
    }

    /// Turns a media file into the modality's model input (decode + preprocess).
    public typealias MediaLoader = @Sendable (_ file: String) throws -> Tensor

    public let options: Options
    public let collator: Collator
    public let skipLog: SkipLog
    let samples: [Collator.Expanded]
    let sampleIds: [String]
    let mediaLoaders: [String: MediaLoader]

    /// Expands every sample now (tokens are cheap; media are loaded per batch). Samples that cannot be
    /// used are skipped and logged, or throw when `options.strict`.
    public init(samples tokenized: [TokenizedSample], collator: Collator, mediaLoaders: [String: MediaLoader],
                options: Options, skipLog: SkipLog = SkipLog()) throws {
        precondition(options.batchSize > 0, "batch size must be positive")
        precondition(options.shardCount > 0 && (0..<options.shardCount).contains(options.shardRank), "bad shard \(options.shardRank) of \(options.shardCount)")
        self.options = options
        self.collator = collator
        self.skipLog = skipLog
        self.mediaLoaders = mediaLoaders
        var kept: [Collator.Expanded] = [], ids: [String] = []
        for sample in tokenized {
            do {
                kept.append(try collator.expand(sample))
                ids.append(sample.id)
            } catch let error as SampleError {
                if options.strict { throw error }
                skipLog.record(error)
            }
        }
        samples = kept
        sampleIds = ids
    }

    public var sampleCount: Int { samples.count }

    /// The media files of all samples by modality, each once, sorted.
    public var mediaFiles: [String: [String]] {
        var files: [String: Set<String>] = [:]
        for sample in samples { for item in sample.items { files[item.modality, default: []].insert(item.file) } }
        return files.mapValues { $0.sorted() }
    }

    /// Each item decoded and preprocessed by its modality's media loader, the items in parallel.
    public func load(_ items: [(modality: String, file: String)]) -> [Result<Tensor, Error>] {
        var results = [Result<Tensor, Error>?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: items.count) { k in
                guard let load = mediaLoaders[items[k].modality] else {
                    out[k] = .failure(SampleError(.media, sample: "", "no loader for modality \(items[k].modality)"))
                    return
                }
                out[k] = Result { try load(items[k].file) }
            }
        }
        return results.map { $0! }
    }

    /// Samples cut to the maximum length (never inside a media span).
    public var truncatedCount: Int { samples.filter(\.wasTruncated).count }

    /// The (global) batches of `epoch` as lists of sample indices.
    public func order(epoch: Int) -> [[Int]] {
        BatchOrder.batches(lengths: samples.map(\.ids.count), isMultimodal: samples.map { !$0.items.isEmpty },
                           batchSize: options.globalBatchSize, seed: options.seed, epoch: epoch,
                           groupByModalityLength: options.groupByModalityLength)
    }

    /// This rank's slice of a global batch (empty when the batch is too short to reach it).
    func shard(_ batch: [Int]) -> [Int] {
        guard options.shardCount > 1 else { return batch }
        let start = min(batch.count, options.shardRank * options.batchSize)
        return Array(batch[start..<min(batch.count, start + options.batchSize)])
    }

    public var batchesPerEpoch: Int { (samples.count + options.globalBatchSize - 1) / options.globalBatchSize }

    /// Batches of `position.epoch` from `position.batch` on, prepared in the background.
    public func batches(from position: DataPosition) -> BatchStream {
        BatchStream(loader: self, order: order(epoch: position.epoch), start: position.batch, epoch: position.epoch)
    }

    /// Loads the media of one batch and collates it; bad media drop their sample (or throw when strict).
    func makeBatch(_ indices: [Int]) throws -> Batch? {
        guard !indices.isEmpty else { return nil }
        let items = indices.flatMap { i in samples[i].items.map { (sample: i, item: $0) } }
        let results = load(items.map { (modality: $0.item.modality, file: $0.item.file) })
        var failed = Set<Int>()
        for (k, result) in results.enumerated() {
            if case .failure(let error) = result {
                let id = sampleIds[items[k].sample]
                let sampleError = SampleError(.media, sample: id, "\(items[k].item.file): \(error)")
                if options.strict { throw sampleError }
                if failed.insert(items[k].sample).inserted { skipLog.record(sampleError) }
            }
        }
        let keep = indices.filter { !failed.contains($0) }
        guard !keep.isEmpty else { return nil }
        var inputs: [String: [Tensor]] = [:]
        for (k, (sample, item)) in items.enumerated() where !failed.contains(sample) {
            inputs[item.modality, default: []].append(try results[k].get())
        }
        return collator.collate(keep.map { samples[$0] }, sampleIds: keep.map { sampleIds[$0] }, inputs: inputs)
    }
}

/// Batches of one epoch, produced by a background thread up to `prefetch` ahead.
public final class BatchStream: IteratorProtocol {
    /// What the producer thread and the consumer share; the thread never holds the stream itself, so
    /// dropping the stream stops the thread.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var buffer: [Int: Result<Batch?, Error>] = [:]
        var cancelled = false
        var produced: Int
        var consumed: Int
        init(start: Int) { produced = start; consumed = start }
    }

    public let epoch: Int
    private let order: [[Int]]
    private let shared: Shared

    init(loader: DataLoader, order: [[Int]], start: Int, epoch: Int) {
        self.order = order
        self.epoch = epoch
        let shared = Shared(start: start)
        self.shared = shared
        let depth = max(1, loader.options.prefetch)
        let thread = Thread {
            for index in start..<max(start, order.count) {
                shared.condition.lock()
                while !shared.cancelled && shared.produced - shared.consumed >= depth { shared.condition.wait() }
                let stop = shared.cancelled
                shared.condition.unlock()
                if stop { return }
                let result = Result { try loader.makeBatch(loader.shard(order[index])) }
                shared.condition.lock()
                shared.buffer[index] = result
                shared.produced = index + 1
                shared.condition.broadcast()
                shared.condition.unlock()
            }
        }
        thread.name = "loom.data"
        thread.start()
    }

    deinit {
        shared.condition.lock()
        shared.cancelled = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    public var count: Int { order.count }

    /// Index of the next batch `nextBatch()` returns: the resumable position within the epoch.
    public var nextIndex: Int {
        shared.condition.lock(); defer { shared.condition.unlock() }
        return shared.consumed
    }

    /// What one (global) batch index gives this process: its batch, or nothing (every sample of its
    /// slice was bad, or a short last batch did not reach this rank).
    public enum Slot {
        case batch(Batch)
        case empty
    }

    /// The next batch index's slot, nil at the end of the epoch: data-parallel ranks stay in step by
    /// consuming one slot each per batch index. Throws a strict-mode data error.
    public func nextSlot() throws -> Slot? {
        shared.condition.lock()
        let index = shared.consumed
        guard index < order.count else { shared.condition.unlock(); return nil }
        while shared.buffer[index] == nil { shared.condition.wait() }
        let result = shared.buffer.removeValue(forKey: index)!
        shared.consumed = index + 1
        shared.condition.broadcast()
        shared.condition.unlock()
        return try result.get().map { .batch($0) } ?? .empty
    }

    /// The next batch, nil at the end of the epoch (empty slots are passed over). Throws a
    /// strict-mode data error.
    public func nextBatch() throws -> Batch? {
        while let slot = try nextSlot() {
            if case .batch(let batch) = slot { return batch }
        }
        return nil
    }

    public func next() -> Batch? { try? nextBatch() }
}
