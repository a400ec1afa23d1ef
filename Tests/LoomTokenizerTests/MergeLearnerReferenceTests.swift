import XCTest
@testable import LoomTokenizer

/// `MergeLearner`'s incremental pair counts against the naive loop that recounts every pair before
/// each merge, on random words over tiny alphabets: runs like "aaaa" and "abab" overlap, a merge can
/// spell a special token (never made) or a token already there (its id is reused, and counts of pairs
/// that already exist grow).
final class MergeLearnerReferenceTests: XCTestCase {
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// The naive loop: count every adjacent pair, take the best (count, then texts), merge everywhere.
    static func reference(tokens initial: [[UInt8]], specialCount: Int, words initialWords: [[Int32]], counts: [Int],
                          vocabularySize: Int, minimumFrequency: Int) -> (tokens: [[UInt8]], merges: [[Int32]], words: [[Int32]]) {
        var tokens = initial, words = initialWords
        var merges: [[Int32]] = []
        var banned = Set<[Int32]>()
        while tokens.count < vocabularySize {
            var pairCounts: [[Int32]: Int] = [:]
            for (word, count) in zip(words, counts) where word.count > 1 {
                for i in 0..<(word.count - 1) { pairCounts[[word[i], word[i + 1]], default: 0] += count }
            }
            let candidates = pairCounts.filter { !banned.contains($0.key) }
            guard let best = candidates.min(by: { a, b in
                if a.value != b.value { return a.value > b.value }
                if a.key[0] != b.key[0] { return tokens[Int(a.key[0])].lexicographicallyPrecedes(tokens[Int(b.key[0])]) }
                return tokens[Int(a.key[1])].lexicographicallyPrecedes(tokens[Int(b.key[1])])
            }), best.value >= minimumFrequency else { break }
            let (a, b) = (best.key[0], best.key[1])
            let text = tokens[Int(a)] + tokens[Int(b)]
            var merged = tokens.firstIndex(of: text).map(Int32.init) ?? -1
            if merged >= 0 && merged < specialCount {
                banned.insert(best.key)
                continue
            }
            if merged < 0 {
                merged = Int32(tokens.count)
                tokens.append(text)
            }
            merges.append([a, b])
            for w in words.indices {
                var out: [Int32] = [], i = 0
                let word = words[w]
                while i < word.count {
                    if i + 1 < word.count, word[i] == a, word[i + 1] == b {
                        out.append(merged)
                        i += 2
                    } else {
                        out.append(word[i])
                        i += 1
                    }
                }
                words[w] = out
            }
        }
        return (tokens, merges, words)
    }

    func testIncrementalCountsMatchTheNaiveLoop() {
        var rng = SplitMix64(state: 42)
        for trial in 0..<100 {
            // Specials "<s>" and "bab" (a possible merge), then symbols: "ab" (which merging a and b
            // spells again) and 2–4 letters.
            let letters = Array("abcd".utf8.prefix(2 + trial % 3))
            let tokens: [[UInt8]] = [Array("<s>".utf8), Array("bab".utf8), Array("ab".utf8)] + letters.map { [$0] }
            let specialCount = 2
            var words: [[Int32]] = [], counts: [Int] = []
            for _ in 0..<(5 + rng.below(40)) {
                let length = 1 + rng.below(trial % 2 == 0 ? 6 : 16)
                words.append((0..<length).map { _ in Int32(specialCount + rng.below(tokens.count - specialCount)) })
                counts.append(1 + rng.below(5))
            }
            let vocabularySize = tokens.count + rng.below(60)
            let minimumFrequency = 1 + rng.below(3)
            let expected = Self.reference(tokens: tokens, specialCount: specialCount, words: words, counts: counts,
                                          vocabularySize: vocabularySize, minimumFrequency: minimumFrequency)
            let learner = MergeLearner(tokens: tokens, specialCount: specialCount, words: words, counts: counts)
            learner.run(vocabularySize: vocabularySize, minimumFrequency: minimumFrequency)
            XCTAssertEqual(learner.merges.map { [$0.left, $0.right] }, expected.merges, "trial \(trial)")
            XCTAssertEqual(learner.tokens, expected.tokens, "trial \(trial)")
            XCTAssertEqual(learner.corpusTokenCount, zip(expected.words, counts).reduce(0) { $0 + $1.0.count * $1.1 }, "trial \(trial)")
        }
    }
}
