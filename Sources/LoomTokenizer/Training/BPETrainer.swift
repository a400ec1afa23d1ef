import Foundation

/// Trains a byte-level BPE tokenizer (GPT-2 style) from text:
/// 1. each text is cut on the special tokens (which are never learned from), then split into words
///    by the same ByteLevel pre-tokenizer the loaded tokenizer runs (GPT-2 regex, no prefix space);
/// 2. distinct words are counted;
/// 3. starting from the 256 byte symbols, the most frequent adjacent pair of symbols is merged into a
///    new token, again and again, until the vocabulary has `vocabularySize` tokens or no pair occurs
///    `minimumFrequency` times (see `MergeLearner` for the loop and its tie-break).
///
///     let trainer = try BPETrainer(options: BPETrainingOptions(vocabularySize: 1000))
///     for line in lines { trainer.add(line) }
///     let trained = trainer.train()
///     try trained.write(to: folder)   // tokenizer.json, tokenizer_config.json, special_tokens_map.json
///
/// The result depends only on the multiset of texts (not their order) and is the same on every run.
public final class BPETrainer {
    public let options: BPETrainingOptions

    private let preTokenizer = PreTokenizer.byteLevel(addsPrefixSpace: false, usesRegex: true)
    private let specialMatcher: TokenMatcher
    /// Distinct words (raw bytes) to their index in `wordCounts`.
    private var wordIndex = ByteKeyedTable(minimumCapacity: 1 << 12)
    /// Every distinct word's bytes, one after the other; word k ends at `wordEnds[k]`.
    private var wordBytes: [UInt8] = []
    private var wordEnds: [Int] = []
    private var wordCounts: [Int] = []
    private var list = PieceList()
    private var scratch = PreTokenizerScratch()
    private var lines = 0
    private var bytes = 0
    private var specialOccurrences = 0

    public init(options: BPETrainingOptions) throws {
        try options.validate()
        self.options = options
        specialMatcher = TokenMatcher(options.specialTokens.enumerated().map { (Array($1.utf8), $0) })
    }

    /// Counts the words of one text (a line of the corpus, without its line break).
    public func add(_ text: String) {
        var text = text
        lines += 1
        list.removeAll()
        text.withUTF8 { buffer in
            bytes += buffer.count
            list.bytes.append(contentsOf: buffer)
            let p = buffer.baseAddress ?? emptyBytes
            var offset = 0
            while let match = specialMatcher.nextMatch(p, from: offset, buffer.count) {
                if offset < match.start { list.pieces.append(Piece(span: Span(start: offset, end: match.start))) }
                specialOccurrences += 1
                offset = match.end
            }
            if offset < buffer.count { list.pieces.append(Piece(span: Span(start: offset, end: buffer.count))) }
        }
        preTokenizer.apply(&list, &scratch)
        list.bytes.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            for piece in list.pieces where !piece.span.isEmpty {
                countWord(p + piece.span.start, piece.span.end - piece.span.start)
            }
        }
    }

    /// Counts the words of every text.
    public func add<Texts: Sequence>(contentsOf texts: Texts) where Texts.Element == String {
        for text in texts { add(text) }
    }

    /// Counts every line of a UTF-8 text file's contents as one text: lines are cut at "\n" (a "\r"
    /// before it stays in the text) and empty lines are skipped. `source` names the file in errors.
    public func addLines(of data: Data, source: String) throws {
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let text = String(validating: line, as: UTF8.self) else {
                throw TokenizerError("\(source):\(lineNumber): not valid UTF-8")
            }
            add(text)
        }
    }

    private func countWord(_ p: UnsafePointer<UInt8>, _ count: Int) {
        if let (index, _) = wordIndex.lookup(p, count) {
            wordCounts[Int(index)] += 1
            return
        }
        wordIndex.insert(p, count, Int32(wordCounts.count), 0)
        wordBytes.append(contentsOf: UnsafeBufferPointer(start: p, count: count))
        wordEnds.append(wordBytes.count)
        wordCounts.append(1)
    }

    /// The number of distinct words counted so far.
    public var distinctWordCount: Int { wordCounts.count }

    /// Learns the merges from the words counted so far. The trainer can keep counting afterwards.
    public func train() -> TrainedBPE {
        let specials = options.specialTokens
        var initial = specials.map { Array($0.utf8) }
        for byte in 0..<256 {
            var text: [UInt8] = []
            appendUTF8(ByteLevelAlphabet.scalarOfByte[byte], to: &text)
            initial.append(text)
        }
        let firstByteId = Int32(specials.count)
        var words: [[Int32]] = []
        words.reserveCapacity(wordCounts.count)
        var start = 0
        for end in wordEnds {
            words.append(wordBytes[start..<end].map { firstByteId + Int32($0) })
            start = end
        }
        let learner = MergeLearner(tokens: initial, specialCount: specials.count, words: words, counts: wordCounts)
        learner.run(vocabularySize: options.vocabularySize, minimumFrequency: options.minimumFrequency)
        let statistics = BPETrainingStatistics(lines: lines, bytes: bytes, distinctWords: wordCounts.count,
                                               tokens: learner.corpusTokenCount + specialOccurrences)
        return TrainedBPE(options: options, tokens: learner.tokens, merges: learner.merges, statistics: statistics)
    }
}

/// What a training run saw and how well its vocabulary compresses it.
public struct BPETrainingStatistics: Sendable, Equatable {
    /// Texts added.
    public var lines: Int
    /// UTF-8 bytes of those texts.
    public var bytes: Int
    /// Distinct pre-tokenizer words.
    public var distinctWords: Int
    /// Tokens the trained tokenizer encodes the texts into (without BOS; special tokens in the text
    /// count one each).
    public var tokens: Int

    /// Bytes of text per token: higher is better compression (1 means no merges at all).
    public var bytesPerToken: Double { tokens == 0 ? 0 : Double(bytes) / Double(tokens) }
}
