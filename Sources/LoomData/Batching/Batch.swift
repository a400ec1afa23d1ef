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
