/// The order samples are visited in an epoch: a seeded shuffle, optionally grouped by modality and
/// length as LLaVA's `group_by_modality_length` (multimodal and text-only samples never share a
/// batch; within a megabatch, samples are sorted longest first so padding stays small).
public enum BatchOrder {
    /// Batches of sample indices for `epoch`.
    public static func batches(lengths: [Int], isMultimodal: [Bool], batchSize: Int, seed: UInt64, epoch: Int,
                               groupByModalityLength: Bool, megabatchFactor: Int = 1) -> [[Int]] {
        precondition(batchSize > 0)
        var rng = SplitMix(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        let indices = Array(lengths.indices)
        guard groupByModalityLength else {
            return chunks(rng.shuffled(indices), batchSize)
        }
        let megabatch = batchSize * max(1, megabatchFactor)
        func grouped(_ group: [Int]) -> [[Int]] {
            chunks(rng.shuffled(group), megabatch).map { mega in
                chunks(longestFirst(mega, lengths: lengths), batchSize)
            }.flatMap { $0 }
        }
        var batches = grouped(indices.filter { isMultimodal[$0] }) + grouped(indices.filter { !isMultimodal[$0] })
        // Shuffle whole batches; incomplete ones go last so every other batch is full.
        let partial = batches.filter { $0.count < batchSize }
        batches = rng.shuffled(batches.filter { $0.count == batchSize }) + partial
        return batches
    }

    /// `indices` sorted by `lengths`, longest first; ties keep index order.
    static func longestFirst(_ indices: [Int], lengths: [Int]) -> [Int] {
        indices.sorted { lengths[$0] > lengths[$1] || lengths[$0] == lengths[$1] && $0 < $1 }
    }

    static func chunks(_ values: [Int], _ size: Int) -> [[Int]] {
        stride(from: 0, to: values.count, by: size).map { Array(values[$0..<min($0 + size, values.count)]) }
    }
}

/// SplitMix64: small, seedable, identical on every platform.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fisher–Yates.
    mutating func shuffled<T>(_ values: [T]) -> [T] {
        var result = values
        guard result.count > 1 else { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            result.swapAt(i, j)
        }
        return result
    }
}
