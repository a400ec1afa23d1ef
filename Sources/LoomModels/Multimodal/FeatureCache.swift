import Foundation
import LoomTensor

/// A frozen encoder's features by media file, so that a file seen again (the next epoch, the same
/// clip in another conversation) is neither decoded nor encoded again. Valid while the encoder and
/// its preprocessing stay as they are: `TrainingRun` fills one for each stage whose encoder is
/// frozen before the stage's first step, and drops it at the stage's end. Entries are never
/// evicted; `store` refuses what would exceed `budgetBytes`. Thread-safe: the data loader asks for
/// stand-ins while the model reads.
public final class FeatureCache: @unchecked Sendable {
    /// One file's encoder output.
    public struct Entry {
        /// [1, N, D], contiguous.
        public var features: Tensor
        /// Leading real rows of `features` (`ModalityEncoder.encodeWithLengths`), nil when all are.
        public var length: Int?
        /// The shape of the file's model input (without the batch dim), for its stand-in.
        public var inputShape: [Int]
    }

    public let budgetBytes: Int
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var standIns: [[Int]: Tensor] = [:]
    private var heldBytes = 0
    private var hitCount = 0
    private var missCount = 0

    public init(budgetBytes: Int) {
        precondition(budgetBytes > 0, "a feature cache needs a positive budget")
        self.budgetBytes = budgetBytes
    }

    /// The entry of `file`, counting a hit or a miss.
    public func entry(for file: String) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        let found = entries[file]
        if found == nil { missCount += 1 } else { hitCount += 1 }
        return found
    }

    /// Keeps the features of `files` (row i of `encoded` for file i, encoded from inputs of shape
    /// [I] + `inputShape`) until the budget is spent. Returns how many were stored.
    @discardableResult
    public func store(_ encoded: (features: Tensor, lengths: [Int]?), files: [String], inputShape: [Int]) -> Int {
        precondition(encoded.features.shape[0] == files.count, "\(files.count) files for \(encoded.features.shape[0]) feature rows")
        var stored = 0
        for (i, file) in files.enumerated() {
            let features = encoded.features.sliced(axis: 0, i..<(i + 1)).contiguous()
            let bytes = features.count * MemoryLayout<Float>.size
            lock.lock()
            defer { lock.unlock() }
            guard entries[file] == nil else { continue }
            guard heldBytes + bytes <= budgetBytes else { break }
            entries[file] = Entry(features: features, length: encoded.lengths?[i], inputShape: inputShape)
            heldBytes += bytes
            stored += 1
        }
        return stored
    }

    /// Zeros in the shape of `file`'s model input when its features are held, nil otherwise: what a
    /// data loader puts in a batch instead of decoding the file (the model then reads the cache).
    public func standIn(for file: String) -> Tensor? {
        lock.lock(); defer { lock.unlock() }
        guard let shape = entries[file]?.inputShape else { return nil }
        if let zeros = standIns[shape] { return zeros }
        let zeros = Tensor(zeros: shape)
        standIns[shape] = zeros
        return zeros
    }

    public struct Statistics: Equatable, CustomStringConvertible {
        public var files: Int
        public var bytes: Int
        public var hits: Int
        public var misses: Int

        public init(files: Int, bytes: Int, hits: Int, misses: Int) {
            self.files = files
            self.bytes = bytes
            self.hits = hits
            self.misses = misses
        }

        public var description: String {
            "\(files) files (\(String(format: "%.1f", Double(bytes) / 1_048_576)) MB), \(hits) of \(hits + misses) items read from it"
        }
    }

    public var statistics: Statistics {
        lock.lock(); defer { lock.unlock() }
        return Statistics(files: entries.count, bytes: heldBytes, hits: hitCount, misses: missCount)
    }
}
