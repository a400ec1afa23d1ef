import XCTest
import LoomTensor
@testable import LoomData

final class LoaderTests: XCTestCase {
    let tokenizer = WordTokenizer()

    func samples(_ count: Int, textOnlyEvery: Int = 3) throws -> [TokenizedSample] {
        let t = ConversationTokenizer(template: .plain, tokenizer: tokenizer, placeholders: [.image])
        let v = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image])
        return try (0..<count).map { i in
            let words = (0...(i % 5)).map { "w\($0)" }.joined(separator: " ")
            if i % textOnlyEvery == 0 {
                return try v.tokenize(Conversation(id: "t\(i)", media: [:], turns: [.init(from: "human", value: "q \(i)"), .init(from: "gpt", value: words)]))
            }
            return try t.tokenize(Conversation(id: "m\(i)", media: ["image": ["img\(i).png"]],
                                               turns: [.init(from: "human", value: "<image>"), .init(from: "gpt", value: words)]))
        }
    }

    let collator = Collator(tokensPerItem: ["image": 4], placeholders: [.image], maxLength: 64, padTokenId: 0)

    func imageLoader(failing: Set<String> = []) -> DataLoader.MediaLoader {
        { file in
            if failing.contains(file) { throw DatasetError("cannot decode \(file)") }
            let n = Float(file.filter(\.isNumber).compactMap { Int(String($0)) }.reduce(0, +))
            return Tensor(repeating: n, shape: [3, 2, 2])
        }
    }

    func testExpansionSlotsAndPadding() throws {
        let loader = try DataLoader(samples: try samples(4), collator: collator, mediaLoaders: ["image": imageLoader()],
                                    options: .init(batchSize: 4, seed: 1))
        let batch = try XCTUnwrap(loader.batches(from: DataPosition()).nextBatch())
        XCTAssertEqual(batch.batchSize, 4)
        let media = try XCTUnwrap(batch.media["image"])
        XCTAssertEqual(media.inputs.shape, [2, 3, 2, 2])  // samples 1 and 2 have images; 0 and 3 are text
        XCTAssertEqual(media.slots.count, 8)
        for slot in media.slots {
            XCTAssertEqual(batch.labels.scalars[slot], -100)
            XCTAssertTrue(batch.attentionMask[slot])
        }
        // Padding: label −100, mask false.
        for (i, m) in batch.attentionMask.enumerated() where !m { XCTAssertEqual(batch.labels.scalars[i], -100) }
    }

    /// `Batch.shards(n)`: every sample in exactly one shard, longest first dealt in turn (so the shards'
    /// token counts are close), each shard padded to its own longest sample with its media items.
    func testShardsDealTheSamplesLongestFirst() throws {
        let loader = try DataLoader(samples: try samples(6), collator: collator, mediaLoaders: ["image": imageLoader()],
                                    options: .init(batchSize: 6, seed: 3))
        let batch = try XCTUnwrap(loader.batches(from: DataPosition()).nextBatch())
        let lengths = batch.realLengths
        let order = (0..<6).sorted { lengths[$0] > lengths[$1] || lengths[$0] == lengths[$1] && $0 < $1 }
        let shards = batch.shards(4)
        XCTAssertEqual(shards.count, 4)
        XCTAssertEqual(shards.map(\.batchSize), [2, 2, 1, 1])
        for (k, shard) in shards.enumerated() {
            let rows = stride(from: k, to: 6, by: 4).map { order[$0] }
            let expected = batch.rows(rows)
            XCTAssertEqual(shard.inputIds, expected.inputIds)
            XCTAssertEqual(shard.labels, expected.labels)
            XCTAssertEqual(shard.length, rows.map { lengths[$0] }.max())
            XCTAssertEqual(shard.media["image"]?.files, expected.media["image"]?.files)
        }
        XCTAssertEqual(shards.map(\.supervisedCount).reduce(0, +), batch.supervisedCount)
        XCTAssertEqual(batch.shards(10).count, 6)
        XCTAssertEqual(batch.shards(1).map(\.inputIds), [batch.inputIds])
    }

    /// `Batch.sample(b)`: one sample without padding, with exactly its media items and their slots.
    func testSampleTakesOneRowWithItsMedia() throws {
        let loader = try DataLoader(samples: try samples(6), collator: collator, mediaLoaders: ["image": imageLoader()],
                                    options: .init(batchSize: 6, seed: 3))
        let batch = try XCTUnwrap(loader.batches(from: DataPosition()).nextBatch())
        let media = try XCTUnwrap(batch.media["image"])
        var itemsSeen = 0
        for b in 0..<batch.batchSize {
            let one = batch.sample(b)
            let row = b * batch.length
            let kept = batch.attentionMask[row..<(row + batch.length)].filter { $0 }.count
            XCTAssertEqual(one.inputIds.shape, [1, kept])
            XCTAssertEqual(one.inputIds.scalars, Array(batch.inputIds.scalars[row..<(row + kept)]))
            XCTAssertEqual(one.labels.scalars, Array(batch.labels.scalars[row..<(row + kept)]))
            XCTAssertEqual(one.attentionMask, [Bool](repeating: true, count: kept))
            XCTAssertEqual(one.sampleIds, [batch.sampleIds[b]])
            XCTAssertEqual(one.supervisedCount, batch.labels.scalars[row..<(row + batch.length)].filter { $0 != -100 }.count)
            guard let mine = one.media["image"] else {
                XCTAssertFalse(media.slots.contains { $0 / batch.length == b }, "sample \(b) has image slots but no image")
                continue
            }
            // Its items, in order: the same pixels, the slots shifted to row 0.
            XCTAssertEqual(mine.inputs.shape, [1, 3, 2, 2])
            XCTAssertEqual(mine.inputs.scalars, media.inputs.sliced(axis: 0, itemsSeen..<(itemsSeen + 1)).scalars)
            XCTAssertEqual(mine.slots, media.slots[(itemsSeen * 4)..<((itemsSeen + 1) * 4)].map { $0 - row })
            XCTAssertEqual(mine.files, [media.files[itemsSeen]])
            itemsSeen += 1
        }
        XCTAssertEqual(itemsSeen, media.inputs.shape[0])
        XCTAssertGreaterThan(itemsSeen, 1)
    }

    /// `Batch.rows`: chosen samples in the chosen order, padded to the longest of them alone.
    func testRowsAreTheirSamplesPaddedToTheLongest() throws {
        let loader = try DataLoader(samples: try samples(6), collator: collator, mediaLoaders: ["image": imageLoader()],
                                    options: .init(batchSize: 6, seed: 3))
        let batch = try XCTUnwrap(loader.batches(from: DataPosition()).nextBatch())
        let lengths = batch.realLengths
        XCTAssertGreaterThan(Set(lengths).count, 1, "the fixture's samples differ in length")
        for rows in [[4, 1], [0, 2, 5], [3]] {
            let piece = batch.rows(rows)
            let width = rows.map { lengths[$0] }.max()!
            XCTAssertEqual(piece.inputIds.shape, [rows.count, width])
            XCTAssertEqual(piece.sampleIds, rows.map { batch.sampleIds[$0] })
            XCTAssertEqual(piece.supervisedCount, rows.map { batch.sample($0).supervisedCount }.reduce(0, +))
            var items = 0
            for (position, b) in rows.enumerated() {
                let one = batch.sample(b)
                let row = position * width
                XCTAssertEqual(Array(piece.inputIds.scalars[row..<(row + lengths[b])]), one.inputIds.scalars)
                XCTAssertEqual(Array(piece.labels.scalars[row..<(row + lengths[b])]), one.labels.scalars)
                XCTAssertEqual(Array(piece.attentionMask[row..<(row + width)]),
                               [Bool](repeating: true, count: lengths[b]) + [Bool](repeating: false, count: width - lengths[b]))
                XCTAssertTrue(piece.labels.scalars[(row + lengths[b])..<(row + width)].allSatisfy { $0 == -100 })
                guard let mine = one.media["image"] else { continue }
                let theirs = try XCTUnwrap(piece.media["image"])
                let count = mine.inputs.shape[0]
                XCTAssertEqual(Array(theirs.slots[(items * 4)..<((items + count) * 4)]), mine.slots.map { $0 + row })
                XCTAssertEqual(theirs.inputs.sliced(axis: 0, items..<(items + count)).scalars, mine.inputs.scalars)
                XCTAssertEqual(Array(theirs.files[items..<(items + count)]), mine.files)
                items += count
            }
            XCTAssertEqual(piece.media["image"]?.inputs.shape[0] ?? 0, items)
        }
    }

    func testTruncationNeverCutsAMediaSpan() throws {
        let short = Collator(tokensPerItem: ["image": 4], placeholders: [.image], maxLength: 6, padTokenId: 0)
        let sample = TokenizedSample(id: "x", ids: [1, 5, -200, 6, 7, -200, 8], labels: [-100, 5, -100, 6, 7, -100, 8],
                                     media: ["image": ["a", "b"]])
        let expanded = try short.expand(sample)
        XCTAssertEqual(expanded.ids.count, 6)  // BOS, 5, 4 image slots; the rest would cut the second image
        XCTAssertEqual(expanded.items.count, 1)
        XCTAssertTrue(expanded.wasTruncated)
        let tooShort = Collator(tokensPerItem: ["image": 4], placeholders: [.image], maxLength: 3, padTokenId: 0)
        XCTAssertThrowsError(try tooShort.expand(TokenizedSample(id: "y", ids: [1, -200, 5], labels: [-100, -100, 5], media: ["image": ["a"]])))
    }

    func testOrderIsSeededResumableAndGroupsModalities() throws {
        let loader = try DataLoader(samples: try samples(23), collator: collator, mediaLoaders: ["image": imageLoader()],
                                    options: .init(batchSize: 4, seed: 9, groupByModalityLength: true))
        XCTAssertEqual(loader.order(epoch: 0), loader.order(epoch: 0))
        XCTAssertNotEqual(loader.order(epoch: 0), loader.order(epoch: 1))
        XCTAssertEqual(loader.order(epoch: 0).flatMap { $0 }.sorted(), Array(0..<23))
        for batch in loader.order(epoch: 0) {
            XCTAssertEqual(Set(batch.map { loader.samples[$0].items.isEmpty }).count, 1, "a batch mixes modalities")
        }
        // Resuming at batch 3 yields what an uninterrupted epoch yields from batch 3.
        let full = loader.batches(from: DataPosition(epoch: 2))
        var all: [[String]] = []
        while let b = try full.nextBatch() { all.append(b.sampleIds) }
        let resumed = loader.batches(from: DataPosition(epoch: 2, batch: 3))
        var rest: [[String]] = []
        while let b = try resumed.nextBatch() { rest.append(b.sampleIds) }
        XCTAssertEqual(Array(all.dropFirst(3)), rest)
    }

    func testBadMediaIsSkippedAndCountedOrFatalWhenStrict() throws {
        var printed: [String] = []
        let log = SkipLog(printLimit: 1) { printed.append($0) }
        let loader = try DataLoader(samples: try samples(6), collator: collator,
                                    mediaLoaders: ["image": imageLoader(failing: ["img1.png", "img2.png"])],
                                    options: .init(batchSize: 6, seed: 1), skipLog: log)
        let batch = try XCTUnwrap(loader.batches(from: DataPosition()).nextBatch())
        XCTAssertEqual(batch.batchSize, 4)
        XCTAssertEqual(log.counts["media file unusable"], 2)
        XCTAssertEqual(printed.count, 1)
        XCTAssertEqual(log.summary, "2 samples skipped: 2 media file unusable")

        let strict = try DataLoader(samples: try samples(6), collator: collator,
                                    mediaLoaders: ["image": imageLoader(failing: ["img2.png"])],
                                    options: .init(batchSize: 6, seed: 1, strict: true))
        XCTAssertThrowsError(try strict.batches(from: DataPosition()).nextBatch()) { error in
            XCTAssertTrue("\(error)".contains("img2.png") && "\(error)".contains("m2"), "\(error)")
        }
    }
}
