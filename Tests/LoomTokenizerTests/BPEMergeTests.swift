import XCTest
@testable import LoomTokenizer

/// The two fast merge loops (rank scan for short words, priority queue for long ones) against the
/// textbook loop, on random words over a small alphabet with random merge tables.
final class BPEMergeTests: XCTestCase {
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    func testScanAndQueueMatchTheNaiveLoop() {
        var random = Generator(state: 42)
        for trial in 0..<60 {
            let alphabet = 3 + random.next(5)
            // Merges over ids: (a, b) -> new id; ranks in list order; some pairs repeated (later wins).
            var table = MergeTable(minimumCapacity: 400)
            var nextId = Int32(alphabet)
            for rank in 0..<(20 + random.next(150)) {
                let a = Int32(random.next(Int(nextId))), b = Int32(random.next(Int(nextId)))
                table.set(a, b, rank: Int32(rank), merged: nextId)
                nextId += 1
            }
            let merger = BPEMerger(merges: table)
            var scratch = BPEScratch()
            for length in [1, 2, 3, 5, 8, 13, 30, 47, 48, 49, 64, 200] {
                let word = (0..<length).map { _ in Int32(random.next(alphabet)) }
                let expected = merger.naiveMerged(word)
                var scanned = word
                if scanned.count >= 2 { merger.mergeByScanning(&scanned, scratch: &scratch) }
                var queued = word
                if queued.count >= 2 { merger.mergeWithQueue(&queued, scratch: &scratch) }
                var dispatched = word
                merger.merge(&dispatched, scratch: &scratch)
                XCTAssertEqual(scanned, expected, "trial \(trial), length \(length): scan")
                XCTAssertEqual(queued, expected, "trial \(trial), length \(length): queue")
                XCTAssertEqual(dispatched, expected, "trial \(trial), length \(length): merge")
            }
        }
    }

    /// Long words (past the cache and the scan limit) go through the same merges as short ones.
    func testLongWordsTokenizeLikeTheirRepetitions() throws {
        let tokenizer = try TokenizerFixture.tokenizer("llama2_sentencepiece")
        let text = String(repeating: "the quick brown fox ", count: 40)
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        XCTAssertEqual(tokenizer.decode(ids), text)
    }
}

extension BPEMergeTests {
    /// Writes a tokenizer.json with the given model parts and no other components.
    func tokenizer(vocab: [String: Int], merges: [String], extra: String = "") throws -> Tokenizer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-bpe-\(getpid())-\(vocab.count)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let vocabJSON = String(decoding: try JSONSerialization.data(withJSONObject: vocab), as: UTF8.self)
        let mergesJSON = String(decoding: try JSONSerialization.data(withJSONObject: merges), as: UTF8.self)
        let json = """
        {"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null,
         "decoder": null, "model": {"type": "BPE", "dropout": null, "unk_token": null, "fuse_unk": false,
         "byte_fallback": false, "vocab": \(vocabJSON), "merges": \(mergesJSON)\(extra)}}
        """
        let url = directory.appendingPathComponent("tokenizer.json")
        try Data(json.utf8).write(to: url)
        return try Tokenizer(tokenizerJSON: url)
    }

    /// With a token that holds "▁" in the middle, words must not be cut at "▁" (a merge crosses it).
    func testNoSegmentCutWhenAMergeCrossesTheBoundary() throws {
        let crossing = try tokenizer(vocab: ["▁": 0, "a": 1, "b": 2, "a▁": 3, "a▁b": 4, "▁a": 5],
                                     merges: ["a ▁", "a▁ b", "▁ a"])
        XCTAssertEqual(crossing.encode("▁a▁b"), [0, 4])
        // Without the crossing tokens the cut is allowed and changes nothing.
        let plain = try tokenizer(vocab: ["▁": 0, "a": 1, "b": 2, "▁a": 3, "▁b": 4], merges: ["▁ a", "▁ b"])
        XCTAssertEqual(plain.encode("▁a▁b▁▁a"), [3, 4, 0, 3])
    }

    /// ignore_merges: a word in the vocabulary is one token even when the merges would split it.
    func testIgnoreMergesUsesWholeWords() throws {
        let vocab = ["a": 0, "b": 1, "c": 2, "bc": 3, "abc": 4]
        let merges = ["b c"]
        XCTAssertEqual(try tokenizer(vocab: vocab, merges: merges).encode("abc"), [0, 3])
        XCTAssertEqual(try tokenizer(vocab: vocab, merges: merges, extra: ", \"ignore_merges\": true").encode("abc"), [4])
    }
}
