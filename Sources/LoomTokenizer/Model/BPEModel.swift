import Foundation

/// A byte-pair-encoding model as tokenizers' `models::bpe::BPE` (dropout null or 0).
///
/// Per word: with `ignore_merges` a word that is itself in the vocabulary is one token. Otherwise the
/// word's characters (with `continuing_subword_prefix` on all but the first and `end_of_word_suffix`
/// on the last) are looked up; a missing one becomes its `<0xHH>` byte tokens when `byte_fallback`
/// has them all, else `unk_token` (runs fused when `fuse_unk`), else it is dropped. Then the merge
/// loop (BPEMerger) runs.
///
/// Words from the ByteLevel pre-tokenizer arrive as raw bytes ("byte-level" words): their text for
/// the model is each byte's GPT-2 character, which is looked up through a 256-entry table instead of
/// building the mapped string.
final class BPEModel {
    struct Options {
        var unknownToken: String?
        var continuingSubwordPrefix: String?
        var endOfWordSuffix: String?
        var fusesUnknown = false
        var usesByteFallback = false
        var ignoresMerges = false
    }

    let options: Options
    /// Token text (UTF-8) to id.
    let vocabulary: ByteKeyedTable
    let vocabularyCount: Int
    /// Id to token text.
    let tokens: [Int: String]
    let merger: BPEMerger

    private let asciiIds: [Int32]
    private let scalarIds: [UInt32: Int32]
    private let byteLevelIds: [Int32]
    private let byteFallbackIds: [Int32]
    private let unknownId: Int32
    /// Vocabulary keyed by the raw bytes of byte-level tokens, for `ignore_merges` on byte-level words.
    private let rawVocabulary: ByteKeyedTable?
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    private let hasAffixes: Bool
    /// See `segmentBoundary(_:candidates:vocabulary:)`.
    private let segmentBoundary: [UInt8]?

    /// `merges` are (left, right, merged) ids in rank order (already checked against the vocabulary).
    /// `table` maps each token of `entries` to its id (the last one when a token is repeated).
    init(vocabulary entries: [(token: String, id: Int)], table vocabulary: ByteKeyedTable,
         merges: [(Int32, Int32, Int32)], options: Options) {
        self.options = options
        var tokens: [Int: String] = [:]
        tokens.reserveCapacity(entries.count)
        var asciiIds = [Int32](repeating: -1, count: 128)
        var scalarIds: [UInt32: Int32] = [:]
        for (token, id) in entries {
            tokens[id] = token
            // Single characters, for the initial symbols.
            guard token.utf8.count <= 4 else { continue }
            var scalars = token.unicodeScalars.makeIterator()
            guard let scalar = scalars.next(), scalars.next() == nil,
                  let id = vocabulary.lookup(Array(token.utf8))?.0 else { continue }
            if scalar.value < 128 { asciiIds[Int(scalar.value)] = id } else { scalarIds[scalar.value] = id }
        }
        self.vocabulary = vocabulary
        self.vocabularyCount = vocabulary.count
        self.tokens = tokens
        self.asciiIds = asciiIds
        self.scalarIds = scalarIds
        byteLevelIds = ByteLevelAlphabet.scalarOfByte.map { scalar in
            scalar < 128 ? asciiIds[Int(scalar)] : (scalarIds[scalar] ?? -1)
        }
        byteFallbackIds = (0..<256).map { byte in
            let name = "<0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true) + ">"
            return vocabulary.lookup(Array(name.utf8))?.0 ?? -1
        }
        unknownId = options.unknownToken.flatMap { vocabulary.lookup(Array($0.utf8))?.0 } ?? -1
        if options.ignoresMerges {
            var raw = ByteKeyedTable(minimumCapacity: entries.count)
            for (token, _) in entries {
                if let bytes = ByteLevelAlphabet.unmapped(token), let id = vocabulary.lookup(Array(token.utf8))?.0 {
                    raw.insert(bytes, id)
                }
            }
            rawVocabulary = raw
        } else {
            rawVocabulary = nil
        }
        var table = MergeTable(minimumCapacity: merges.count)
        for (rank, (left, right, merged)) in merges.enumerated() {
            table.set(left, right, rank: Int32(rank), merged: merged)
        }
        merger = BPEMerger(merges: table)
        prefix = Array((options.continuingSubwordPrefix ?? "").utf8)
        suffix = Array((options.endOfWordSuffix ?? "").utf8)
        hasAffixes = !prefix.isEmpty || !suffix.isEmpty
        segmentBoundary = hasAffixes || options.ignoresMerges ? nil
            : BPEModel.segmentBoundary(entries.map(\.token), candidates: ["\u{2581}", " "], vocabulary: vocabulary)
    }

    /// A character no merge can attach to what precedes it: it is a token itself and no token holds it
    /// after its first character. (A merge (x, y) makes the token x + y, so a y that starts with it
    /// would put it in the middle.) Words can then be cut before every occurrence and the parts merged
    /// and cached separately with the same result, which matters for SentencePiece-style files whose
    /// "words" are whole lines. Not used with `ignore_merges` (it looks up the whole word) or affixes.
    private static func segmentBoundary(_ tokens: [String], candidates: [Unicode.Scalar],
                                        vocabulary: ByteKeyedTable) -> [UInt8]? {
        var usable = Set(candidates.filter { vocabulary.lookup(Array(String($0).utf8)) != nil })
        for token in tokens where !usable.isEmpty {
            for scalar in token.unicodeScalars.dropFirst() { usable.remove(scalar) }
        }
        return candidates.first(where: usable.contains).map { Array(String($0).utf8) }
    }

    func id(of token: String) -> Int? {
        vocabulary.lookup(Array(token.utf8)).map { Int($0.0) }
    }

    /// Appends the ids of one word (`p[0..<count]`, non-empty).
    func appendIds(_ p: UnsafePointer<UInt8>, _ count: Int, isByteLevel: Bool, to ids: inout [Int32],
                   workspace: BPEWorkspace) {
        if options.ignoresMerges {
            let whole = isByteLevel ? rawVocabulary!.lookup(p, count) : vocabulary.lookup(p, count)
            if let whole {
                ids.append(whole.0)
                return
            }
        }
        if let boundary = segmentBoundary, !isByteLevel, count > boundary.count {
            let first = boundary[0], width = boundary.count
            var start = 0, i = 1
            while i + width <= count {
                if p[i] == first, memcmp(p + i, boundary, width) == 0 {
                    appendSegmentIds(p + start, i - start, isByteLevel: false, to: &ids, workspace: workspace)
                    start = i
                    i += width
                } else {
                    i += 1
                }
            }
            appendSegmentIds(p + start, count - start, isByteLevel: false, to: &ids, workspace: workspace)
            return
        }
        appendSegmentIds(p, count, isByteLevel: isByteLevel, to: &ids, workspace: workspace)
    }

    /// The cached merge of one word (or one segment of a word).
    private func appendSegmentIds(_ p: UnsafePointer<UInt8>, _ count: Int, isByteLevel: Bool, to ids: inout [Int32],
                                  workspace: BPEWorkspace) {
        let cacheable = count < BPEWorkspace.maxCachedWordBytes
        if cacheable, let hit = workspace.cached(p, count, isByteLevel: isByteLevel) {
            ids.append(contentsOf: hit)
            return
        }
        var symbols: [Int32] = []
        swap(&symbols, &workspace.symbols)  // reuse the buffer without a copy-on-write
        symbols.removeAll(keepingCapacity: true)
        if hasAffixes {
            initialSymbolsWithAffixes(p, count, isByteLevel: isByteLevel, into: &symbols)
        } else if isByteLevel {
            initialByteLevelSymbols(p, count, into: &symbols)
        } else {
            initialSymbols(p, count, into: &symbols)
        }
        merger.merge(&symbols, scratch: &workspace.scratch)
        ids.append(contentsOf: symbols)
        if cacheable { workspace.store(p, count, isByteLevel: isByteLevel, symbols) }
        swap(&symbols, &workspace.symbols)
    }

    // MARK: Initial symbols

    /// Unknown-character bookkeeping of `merge_word`: a pending unk is flushed by the next known
    /// character or the end of the word, but not by byte-fallback tokens (the reference's order).
    private struct UnknownRun {
        var pending = false
    }

    @inline(__always)
    private func appendKnown(_ id: Int32, _ symbols: inout [Int32], _ unknown: inout UnknownRun) {
        if unknown.pending {
            symbols.append(unknownId)
            unknown.pending = false
        }
        symbols.append(id)
    }

    /// A symbol whose text (`text[0..<count]`) is not in the vocabulary.
    private func appendUnknown(_ text: UnsafePointer<UInt8>, _ count: Int, _ symbols: inout [Int32],
                               _ unknown: inout UnknownRun) {
        if options.usesByteFallback {
            var all = true
            for k in 0..<count where byteFallbackIds[Int(text[k])] < 0 { all = false; break }
            if all {
                for k in 0..<count { symbols.append(byteFallbackIds[Int(text[k])]) }
                return
            }
        }
        guard unknownId >= 0 else { return }  // no (usable) unk token: the character is dropped
        if unknown.pending {
            if options.fusesUnknown { return }
            symbols.append(unknownId)
        }
        unknown.pending = true
    }

    private func initialSymbols(_ p: UnsafePointer<UInt8>, _ count: Int, into symbols: inout [Int32]) {
        var unknown = UnknownRun()
        var i = 0
        while i < count {
            let byte = p[i]
            if byte < 0x80 {
                let id = asciiIds[Int(byte)]
                if id >= 0 { appendKnown(id, &symbols, &unknown) } else { appendUnknown(p + i, 1, &symbols, &unknown) }
                i += 1
            } else {
                let (scalar, length) = decodeUTF8(p, i)
                if let id = scalarIds[scalar] {
                    appendKnown(id, &symbols, &unknown)
                } else {
                    appendUnknown(p + i, length, &symbols, &unknown)
                }
                i += length
            }
        }
        if unknown.pending { symbols.append(unknownId) }
    }

    private func initialByteLevelSymbols(_ p: UnsafePointer<UInt8>, _ count: Int, into symbols: inout [Int32]) {
        var unknown = UnknownRun()
        var mapped: [UInt8] = []
        for i in 0..<count {
            let id = byteLevelIds[Int(p[i])]
            if id >= 0 {
                appendKnown(id, &symbols, &unknown)
            } else {
                mapped.removeAll(keepingCapacity: true)
                appendUTF8(ByteLevelAlphabet.scalarOfByte[Int(p[i])], to: &mapped)
                mapped.withUnsafeBufferPointer { appendUnknown($0.baseAddress!, $0.count, &symbols, &unknown) }
            }
        }
        if unknown.pending { symbols.append(unknownId) }
    }

    /// The general path: each character's text with the prefix and suffix, looked up as a string.
    private func initialSymbolsWithAffixes(_ p: UnsafePointer<UInt8>, _ count: Int, isByteLevel: Bool,
                                           into symbols: inout [Int32]) {
        var characters: [[UInt8]] = []
        if isByteLevel {
            for i in 0..<count {
                var text: [UInt8] = []
                appendUTF8(ByteLevelAlphabet.scalarOfByte[Int(p[i])], to: &text)
                characters.append(text)
            }
        } else {
            var i = 0
            while i < count {
                let length = utf8Length(lead: p[i])
                characters.append(Array(UnsafeBufferPointer(start: p + i, count: length)))
                i += length
            }
        }
        var unknown = UnknownRun()
        for (k, character) in characters.enumerated() {
            var text = k > 0 ? prefix : []
            text += character
            if k == characters.count - 1 { text += suffix }
            text.withUnsafeBufferPointer { t in
                if let id = vocabulary.lookup(t.baseAddress!, t.count)?.0 {
                    appendKnown(id, &symbols, &unknown)
                } else {
                    appendUnknown(t.baseAddress!, t.count, &symbols, &unknown)
                }
            }
        }
        if unknown.pending { symbols.append(unknownId) }
    }
}

/// Per-thread state of the model: the merge buffers and the word cache (as tokenizers, words of 256
/// bytes or more are not cached). The cache is cleared when it grows past its bound.
final class BPEWorkspace {
    static let maxCachedWordBytes = 256
    static let maxCachedWords = 1 << 17

    var symbols: [Int32] = []
    var scratch = BPEScratch()
    private var plainCache = ByteKeyedTable(minimumCapacity: 4096)
    private var byteLevelCache = ByteKeyedTable(minimumCapacity: 4096)
    private var plainValues: [Int32] = []
    private var byteLevelValues: [Int32] = []

    init() {}

    @inline(__always)
    func cached(_ p: UnsafePointer<UInt8>, _ count: Int, isByteLevel: Bool) -> ArraySlice<Int32>? {
        if isByteLevel {
            guard let (start, n) = byteLevelCache.lookup(p, count) else { return nil }
            return byteLevelValues[Int(start)..<Int(start + n)]
        }
        guard let (start, n) = plainCache.lookup(p, count) else { return nil }
        return plainValues[Int(start)..<Int(start + n)]
    }

    func store(_ p: UnsafePointer<UInt8>, _ count: Int, isByteLevel: Bool, _ ids: [Int32]) {
        if isByteLevel {
            if byteLevelCache.count >= BPEWorkspace.maxCachedWords {
                byteLevelCache.removeAll()
                byteLevelValues.removeAll(keepingCapacity: true)
            }
            byteLevelCache.insert(p, count, Int32(byteLevelValues.count), Int32(ids.count))
            byteLevelValues.append(contentsOf: ids)
        } else {
            if plainCache.count >= BPEWorkspace.maxCachedWords {
                plainCache.removeAll()
                plainValues.removeAll(keepingCapacity: true)
            }
            plainCache.insert(p, count, Int32(plainValues.count), Int32(ids.count))
            plainValues.append(contentsOf: ids)
        }
    }
}
