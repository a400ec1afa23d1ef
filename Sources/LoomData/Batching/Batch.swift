import LoomTensor

/// A padded training batch. Placeholders are expanded: each media item occupies as many positions as
/// its modality's connector produces tokens, and `media[modality].slots` says which.
public struct Batch {
    /// Letters: B batch, T padded length.
    /// [B, T]; pad positions and media slots hold `padTokenId` (their embeddings are replaced or masked).
    public var inputIds: IntTensor
    /// [B, T]; −100 on prompt, padding and media slots.
    public var labels: IntTensor
    /// [B·T], true on real tokens and media slots.
    public var attentionMask: [Bool]
    public var media: [String: MediaBatch]
    /// Sample ids, for error messages and logs.
    public var sampleIds: [String]
    /// Samples whose text was cut to fit the maximum length.
    public var truncatedCount: Int

    public var batchSize: Int { inputIds.shape[0] }
    public var length: Int { inputIds.shape[1] }
    /// Tokens that carry loss.
    public var supervisedCount: Int { labels.scalars.filter { $0 != TokenizedSample.ignoreIndex }.count }

    /// Sample `b` alone, as a batch of one without padding: its tokens, labels and media items, the
    /// slots renumbered. (What the trainer's reproducible mode feeds the model sample by sample.)
    public func sample(_ b: Int) -> Batch { rows([b]) }

    /// Real tokens (and media slots) of each sample: right padding, so they come first.
    public var realLengths: [Int] {
        (0..<batchSize).map { b in attentionMask[(b * length)..<((b + 1) * length)].prefix { $0 }.count }
    }

    /// The batch in pieces of at most `size` samples, longest first (as `group_by_modality_length`
    /// orders a megabatch), each padded to its own longest sample; the batch itself when `size` is
    /// not smaller than it.
    public func lengthGroups(size: Int) -> [Batch] {
        precondition(size > 0, "pieces of \(size) samples")
        guard size < batchSize else { return [self] }
        return BatchOrder.chunks(BatchOrder.longestFirst(Array(0..<batchSize), lengths: realLengths), size).map { rows($0) }
    }

    /// The batch split into `count` shards of whole samples for `SampleParallel` (fewer when it has
    /// fewer samples): longest first, dealt in turn, so the shards' token counts are close; each is
    /// padded to its own longest sample.
    public func shards(_ count: Int) -> [Batch] {
        precondition(count > 0, "\(count) shards")
        guard count > 1, batchSize > 1 else { return [self] }
        let order = BatchOrder.longestFirst(Array(0..<batchSize), lengths: realLengths)
        let n = min(count, batchSize)
        return (0..<n).map { shard in rows(stride(from: shard, to: order.count, by: n).map { order[$0] }) }
    }

    /// The samples `rows` (in that order) as a batch padded to the longest of them alone: their
    /// tokens, labels and media items, the slots renumbered.
    public func rows(_ rows: [Int]) -> Batch {
        precondition(!rows.isEmpty && rows.allSatisfy { (0..<batchSize).contains($0) }, "rows \(rows) of a batch of \(batchSize)")
        let lengths = realLengths
        let width = rows.map { lengths[$0] }.max()!
        var ids: [Int] = [], labelValues: [Int] = [], mask: [Bool] = []
        for b in rows {
            let row = b * length
            ids += inputIds.scalars[row..<(row + width)]
            labelValues += labels.scalars[row..<(row + width)]
            mask += attentionMask[row..<(row + width)]
        }
        var media: [String: MediaBatch] = [:]
        for (modality, items) in self.media where items.tokensPerItem > 0 {
            let perItem = items.tokensPerItem
            var picked: [Int] = [], slots: [Int] = []
            for (position, b) in rows.enumerated() {
                for item in 0..<(items.slots.count / perItem) where items.slots[item * perItem] / length == b {
                    picked.append(item)
                    slots += items.slots[(item * perItem)..<((item + 1) * perItem)].map { $0 - b * length + position * width }
                }
            }
            guard !picked.isEmpty else { continue }
            let first = picked[0]
            let inputs = picked == Array(first..<(first + picked.count))
                ? items.inputs.sliced(axis: 0, first..<(first + picked.count)).contiguous()
                : concat(picked.map { items.inputs.sliced(axis: 0, $0..<($0 + 1)) }, axis: 0)
            media[modality] = MediaBatch(inputs: inputs, slots: slots, tokensPerItem: perItem, files: picked.map { items.files[$0] })
        }
        return Batch(inputIds: IntTensor(shape: [rows.count, width], scalars: ids),
                     labels: IntTensor(shape: [rows.count, width], scalars: labelValues),
                     attentionMask: mask, media: media, sampleIds: rows.compactMap { sampleIds.indices.contains($0) ? sampleIds[$0] : nil },
                     truncatedCount: 0)
    }
}

/// All items of one modality in a batch, in placeholder order (sample by sample).
public struct MediaBatch {
    /// Preprocessed inputs stacked [N, …] (pixel_values [N, 3, H, W], input_features [N, mels, frames]).
    public var inputs: Tensor
    /// Flat positions b·T + t receiving connector outputs: N × tokensPerItem, item-major.
    public var slots: [Int]
    public var tokensPerItem: Int
    public var files: [String]
}
