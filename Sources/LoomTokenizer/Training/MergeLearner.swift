/// The merge loop of BPE training, over a corpus summarised as distinct words (symbol ids) with counts.
///
/// Pair counts are kept up to date incrementally: each pair knows the words it occurs in, so a merge
/// rewrites only those words and adjusts only the counts of the pairs around each occurrence. The
/// queue holds upper bounds of the counts (a count that drops is corrected when its entry comes out
/// and is queued again; a count that grows is queued anew), so the entry that comes out with its
/// true count is the best pair.
///
/// The best pair is the most frequent one; among equally frequent pairs, the one whose left token
/// text, then right token text (UTF-8 of the GPT-2 characters), comes first in byte order. This makes
/// the result independent of the order of words and of hashing.
///
/// As in the tokenizers library, a merge whose text is already a token reuses that token's id (the
/// vocabulary does not grow); a merge that would spell a special token is never made.
final class MergeLearner {
    /// The text of every token (UTF-8 of its GPT-2 characters; special tokens as written), by id.
    private(set) var tokens: [[UInt8]]
    /// The merges in the order they were learned.
    private(set) var merges: [(left: Int32, right: Int32)] = []

    private let specialCount: Int
    private var idOfToken: [[UInt8]: Int32] = [:]
    private var words: [[Int32]]
    private let wordCounts: [Int]

    // Pairs, by slot. A slot's word list may name words that no longer hold the pair.
    private var slotOfPair: [UInt64: Int32] = [:]
    private var pairLeft: [Int32] = []
    private var pairRight: [Int32] = []
    private var pairCount: [Int] = []
    private var pairWords: [[Int32]] = []
    /// Count changes of the merge in progress, applied when it ends.
    private var pairDelta: [Int] = []
    private var touched: [Int32] = []
    private var queue = PairQueue()

    init(tokens: [[UInt8]], specialCount: Int, words: [[Int32]], counts: [Int]) {
        self.tokens = tokens
        self.specialCount = specialCount
        self.words = words
        wordCounts = counts
        for (id, token) in tokens.enumerated() { idOfToken[token] = Int32(id) }
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) { note(word[i], word[i + 1], counts[w], in: Int32(w)) }
        }
        applyDeltas()
    }

    /// Tokens the counted words are encoded into with the merges learned so far.
    var corpusTokenCount: Int {
        zip(words, wordCounts).reduce(0) { $0 + $1.0.count * $1.1 }
    }

    /// Merges until the vocabulary has `vocabularySize` tokens or the best pair occurs fewer than
    /// `minimumFrequency` times.
    func run(vocabularySize: Int, minimumFrequency: Int) {
        let precedes = self.precedes
        while tokens.count < vocabularySize, let top = queue.pop(by: precedes) {
            let slot = Int(top.slot)
            let count = pairCount[slot]
            if top.count != count {
                // A stale bound: queue the true count again (a larger one is queued already).
                if top.count > count, count > 0 { queue.push(QueuedPair(count: count, slot: top.slot), by: precedes) }
                continue
            }
            if count < minimumFrequency { break }
            let left = pairLeft[slot], right = pairRight[slot]
            let text = tokens[Int(left)] + tokens[Int(right)]
            let merged: Int32
            if let existing = idOfToken[text] {
                if existing < specialCount { continue }
                merged = existing
            } else {
                merged = Int32(tokens.count)
                tokens.append(text)
                idOfToken[text] = merged
            }
            merges.append((left, right))
            merge(slot: slot, into: merged)
        }
    }

    /// The queue's order: higher count first, then the pair's texts in byte order.
    private func precedes(_ a: QueuedPair, _ b: QueuedPair) -> Bool {
        if a.count != b.count { return a.count > b.count }
        let al = pairLeft[Int(a.slot)], bl = pairLeft[Int(b.slot)]
        if al != bl { return tokens[Int(al)].lexicographicallyPrecedes(tokens[Int(bl)]) }
        return tokens[Int(pairRight[Int(a.slot)])].lexicographicallyPrecedes(tokens[Int(pairRight[Int(b.slot)])])
    }

    /// Replaces every occurrence of the pair in `slot` (left to right, not overlapping) by `merged`.
    private func merge(slot: Int, into merged: Int32) {
        let a = pairLeft[slot], b = pairRight[slot]
        let candidates = pairWords[slot]
        pairWords[slot] = []
        var previous: Int32 = -1
        for w in candidates where w != previous {
            previous = w
            let count = wordCounts[Int(w)]
            var symbols: [Int32] = []
            swap(&symbols, &words[Int(w)])  // edit in place, without a copy
            let n = symbols.count
            var read = 0, write = 0
            while read < n {
                if read + 1 < n, symbols[read] == a, symbols[read + 1] == b {
                    // x a b y  →  x ab y: the pairs (x a), (a b), (b y) go, (x ab), (ab y) come. x is
                    // what was written last, so an earlier merge in this word is seen (ab a b → ab ab).
                    if write > 0 {
                        let x = symbols[write - 1]
                        note(x, a, -count, in: w)
                        note(x, merged, count, in: w)
                    }
                    note(a, b, -count, in: w)
                    if read + 2 < n {
                        let y = symbols[read + 2]
                        note(b, y, -count, in: w)
                        note(merged, y, count, in: w)
                    }
                    symbols[write] = merged
                    read += 2
                } else {
                    symbols[write] = symbols[read]
                    read += 1
                }
                write += 1
            }
            symbols.removeLast(n - write)
            swap(&symbols, &words[Int(w)])
        }
        applyDeltas()
    }

    /// Records a change of `delta` to the count of (left, right), which occurs in word `w` if it grows.
    private func note(_ left: Int32, _ right: Int32, _ delta: Int, in w: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        let slot: Int
        if let existing = slotOfPair[key] {
            slot = Int(existing)
        } else {
            slot = pairLeft.count
            slotOfPair[key] = Int32(slot)
            pairLeft.append(left)
            pairRight.append(right)
            pairCount.append(0)
            pairWords.append([])
            pairDelta.append(0)
        }
        if pairDelta[slot] == 0 { touched.append(Int32(slot)) }
        pairDelta[slot] += delta
        if delta > 0, pairWords[slot].last != w { pairWords[slot].append(w) }
    }

    /// Applies the recorded changes; a pair whose count grew is queued with its new count.
    private func applyDeltas() {
        let precedes = self.precedes
        for slot in touched {
            let s = Int(slot)
            let delta = pairDelta[s]
            pairDelta[s] = 0
            pairCount[s] += delta
            if delta > 0 { queue.push(QueuedPair(count: pairCount[s], slot: slot), by: precedes) }
        }
        touched.removeAll(keepingCapacity: true)
    }
}
