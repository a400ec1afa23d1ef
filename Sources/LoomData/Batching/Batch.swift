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
    public func sample(_ b: Int) -> Batch {
        precondition((0..<batchSize).contains(b), "sample \(b) of a batch of \(batchSize)")
        let row = b * length
        // Right padding: the real tokens (and media slots) come first.
        let kept = attentionMask[row..<(row + length)].prefix { $0 }.count
        var media: [String: MediaBatch] = [:]
        for (modality, items) in self.media {
            let perItem = items.tokensPerItem
            let mine = (0..<(perItem == 0 ? 0 : items.slots.count / perItem)).filter { items.slots[$0 * perItem] / length == b }
            guard let first = mine.first, let last = mine.last else { continue }
            media[modality] = MediaBatch(inputs: items.inputs.sliced(axis: 0, first..<(last + 1)).contiguous(),
                                         slots: items.slots[(first * perItem)..<((last + 1) * perItem)].map { $0 - row },
                                         tokensPerItem: perItem, files: Array(items.files[first...last]))
        }
        return Batch(inputIds: IntTensor(shape: [1, kept], scalars: Array(inputIds.scalars[row..<(row + kept)])),
                     labels: IntTensor(shape: [1, kept], scalars: Array(labels.scalars[row..<(row + kept)])),
                     attentionMask: [Bool](repeating: true, count: kept), media: media,
                     sampleIds: sampleIds.indices.contains(b) ? [sampleIds[b]] : [], truncatedCount: 0)
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
