import LoomTensor

/// Builds padded batches from tokenized samples: expands each placeholder marker to its modality's
/// token count, truncates to the maximum length without ever cutting a media span, pads to the
/// longest sample (right padding, as LLaVA).
public struct Collator {
    /// Tokens each placeholder expands to, per modality (e.g. image: 576 for CLIP-L/336 with LLaVA-1.5).
    public var tokensPerItem: [String: Int]
    public var placeholders: [Placeholder]
    public var maxLength: Int
    public var padTokenId: Int

    public init(tokensPerItem: [String: Int], placeholders: [Placeholder], maxLength: Int, padTokenId: Int) {
        self.tokensPerItem = tokensPerItem
        self.placeholders = placeholders
        self.maxLength = maxLength
        self.padTokenId = padTokenId
    }

    /// A sample with placeholders expanded and cut to fit, plus the media items it kept.
    public struct Expanded: Sendable {
        public var ids: [Int]
        public var labels: [Int]
        /// (modality, file, first position) per kept media item, in order.
        public var items: [(modality: String, file: String, start: Int)]
        public var wasTruncated: Bool
    }

    /// `requireSupervision` (training) rejects a sample left with no supervised token; prompts for
    /// generation have none.
    public func expand(_ sample: TokenizedSample, requireSupervision: Bool = true) throws -> Expanded {
        var ids: [Int] = [], labels: [Int] = []
        var items: [(modality: String, file: String, start: Int)] = []
        var nextFile: [String: Int] = [:]
        var truncated = false
        for (index, id) in sample.ids.enumerated() {
            if id >= 0 {
                if ids.count >= maxLength { truncated = true; break }
                ids.append(id)
                labels.append(sample.labels[index])
                continue
            }
            guard let placeholder = placeholders.first(where: { $0.marker == id }),
                  let count = tokensPerItem[placeholder.modality] else {
                throw SampleError(.unknownPlaceholder, sample: sample.id, "marker \(id) has no enabled modality")
            }
            let fileIndex = nextFile[placeholder.modality, default: 0]
            guard let file = sample.media[placeholder.modality]?[safe: fileIndex] else {
                throw SampleError(.placeholderCount, sample: sample.id, "more \(placeholder.text) placeholders than \(placeholder.modality) files")
            }
            nextFile[placeholder.modality] = fileIndex + 1
            // A media span is kept whole or not at all.
            if ids.count + count > maxLength { truncated = true; break }
            items.append((placeholder.modality, file, ids.count))
            ids += [Int](repeating: padTokenId, count: count)
            labels += [Int](repeating: TokenizedSample.ignoreIndex, count: count)
        }
        if requireSupervision && !labels.contains(where: { $0 != TokenizedSample.ignoreIndex }) {
            throw SampleError(.noSupervisedTokens, sample: sample.id, "nothing supervised is left within max length \(maxLength)")
        }
        return Expanded(ids: ids, labels: labels, items: items, wasTruncated: truncated)
    }

    /// Pads expanded samples into a batch; `inputs[modality]` are the preprocessed media tensors in
    /// item order (sample by sample), each of the same shape.
    public func collate(_ samples: [Expanded], sampleIds: [String], inputs: [String: [Tensor]]) -> Batch {
        let length = samples.map(\.ids.count).max() ?? 0
        var ids: [Int] = [], labels: [Int] = [], mask: [Bool] = []
        var slots: [String: [Int]] = [:], files: [String: [String]] = [:]
        for (b, sample) in samples.enumerated() {
            let pad = length - sample.ids.count
            ids += sample.ids + [Int](repeating: padTokenId, count: pad)
            labels += sample.labels + [Int](repeating: TokenizedSample.ignoreIndex, count: pad)
            mask += [Bool](repeating: true, count: sample.ids.count) + [Bool](repeating: false, count: pad)
            for item in sample.items {
                let count = tokensPerItem[item.modality]!
                slots[item.modality, default: []] += (0..<count).map { b * length + item.start + $0 }
                files[item.modality, default: []].append(item.file)
            }
        }
        var media: [String: MediaBatch] = [:]
        for (modality, tensors) in inputs where !tensors.isEmpty {
            let stacked = concat(tensors.map { $0.unsqueezed(0) }, axis: 0)
            media[modality] = MediaBatch(inputs: stacked, slots: slots[modality] ?? [], tokensPerItem: tokensPerItem[modality]!,
                                         files: files[modality] ?? [])
        }
        return Batch(inputIds: IntTensor(shape: [samples.count, length], scalars: ids),
                     labels: IntTensor(shape: [samples.count, length], scalars: labels),
                     attentionMask: mask, media: media, sampleIds: sampleIds,
                     truncatedCount: samples.filter(\.wasTruncated).count)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
