/// A piece of text on its way through the pipeline: a byte range of `PieceList.bytes`, or an added
/// token already matched (which no later stage touches).
struct Piece {
    var span: Span
    /// The added token's id, or -1 for text.
    var token: Int32 = -1
    /// The bytes are raw and stand for their GPT-2 characters (after the ByteLevel pre-tokenizer).
    var isByteLevel = false
    /// The piece begins at the first character of the input (Metaspace's "first" scheme).
    var startsAtOrigin = false
}

/// The pieces of one input, all pointing into one byte buffer.
struct PieceList {
    var bytes: [UInt8] = []
    var pieces: [Piece] = []

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        pieces.removeAll(keepingCapacity: true)
    }
}

/// Reusable buffers of the pre-tokenizers.
struct PreTokenizerScratch {
    var other = PieceList()
    var matches: [Span] = []
    var segments: [(span: Span, isMatch: Bool)] = []
    var spans: [Span] = []
}

enum PrependScheme: String {
    case always, first, never
}

/// The pre-tokenizers of tokenizer.json. Digits, Punctuation, Whitespace, WhitespaceSplit,
/// BertPreTokenizer and CharDelimiterSplit load as `split` with a character-class pattern.
indirect enum PreTokenizer {
    /// Optional leading space, the GPT-2 split (when `usesRegex`), then every byte as its character.
    case byteLevel(addsPrefixSpace: Bool, usesRegex: Bool)
    case split(TextPattern, SplitBehavior, invert: Bool)
    /// Spaces become `replacement`, which is prepended per `scheme`; then optionally split before
    /// each replacement (MergedWithNext).
    case metaspace(replacement: UInt32, scheme: PrependScheme, splits: Bool)
    case sequence([PreTokenizer])

    func apply(_ list: inout PieceList, _ scratch: inout PreTokenizerScratch) {
        switch self {
        case .sequence(let stages):
            for stage in stages { stage.apply(&list, &scratch) }
        case .split(let pattern, let behavior, let invert):
            materializeByteLevel(&list, &scratch)
            split(&list, pattern, behavior, invert: invert, &scratch)
        case .byteLevel(let addsPrefixSpace, let usesRegex):
            materializeByteLevel(&list, &scratch)
            if addsPrefixSpace {
                rewrite(&list, &scratch) { bytes, out, _ in
                    if bytes.first != 0x20 { out.append(0x20) }
                    out.append(contentsOf: bytes)
                }
            }
            if usesRegex { split(&list, .gpt2, .isolated, invert: false, &scratch) }
            for i in list.pieces.indices where list.pieces[i].token < 0 { list.pieces[i].isByteLevel = true }
        case .metaspace(let replacement, let scheme, let splits):
            materializeByteLevel(&list, &scratch)
            var replacementBytes: [UInt8] = []
            appendUTF8(replacement, to: &replacementBytes)
            rewrite(&list, &scratch) { bytes, out, piece in
                let prepends: Bool
                switch scheme {
                case .always: prepends = true
                case .first: prepends = piece.startsAtOrigin
                case .never: prepends = false
                }
                // Spaces are replaced first, so a leading space already counts as the replacement.
                if prepends, bytes.first != 0x20, !bytes.starts(with: replacementBytes) {
                    out.append(contentsOf: replacementBytes)
                }
                for byte in bytes {
                    if byte == 0x20 { out.append(contentsOf: replacementBytes) } else { out.append(byte) }
                }
            }
            if splits { split(&list, .eachScalar(replacement), .mergedWithNext, invert: false, &scratch) }
        }
    }

    /// Splits every text piece; sub-pieces after the first no longer start at the origin.
    private func split(_ list: inout PieceList, _ pattern: TextPattern, _ behavior: SplitBehavior, invert: Bool,
                       _ scratch: inout PreTokenizerScratch) {
        scratch.other.pieces.removeAll(keepingCapacity: true)
        list.bytes.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            for piece in list.pieces {
                if piece.token >= 0 {
                    scratch.other.pieces.append(piece)
                    continue
                }
                pattern.segments(p, piece.span.start, piece.span.end, matches: &scratch.matches,
                                 into: &scratch.segments)
                scratch.spans.removeAll(keepingCapacity: true)
                behavior.appendPieces(of: scratch.segments, invert: invert, into: &scratch.spans)
                for span in scratch.spans {
                    var sub = piece
                    sub.span = span
                    sub.startsAtOrigin = piece.startsAtOrigin && span.start == piece.span.start
                    scratch.other.pieces.append(sub)
                }
            }
        }
        swap(&list.pieces, &scratch.other.pieces)
    }

    /// Rebuilds every text piece's bytes into a fresh buffer through `transform`.
    private func rewrite(_ list: inout PieceList, _ scratch: inout PreTokenizerScratch,
                         _ transform: (UnsafeBufferPointer<UInt8>, inout [UInt8], Piece) -> Void) {
        scratch.other.removeAll()
        list.bytes.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            for var piece in list.pieces {
                if piece.token < 0 {
                    let start = scratch.other.bytes.count
                    transform(UnsafeBufferPointer(start: p + piece.span.start, count: piece.span.end - piece.span.start),
                              &scratch.other.bytes, piece)
                    piece.span = Span(start: start, end: scratch.other.bytes.count)
                    if piece.span.isEmpty { continue }
                }
                scratch.other.pieces.append(piece)
            }
        }
        swap(&list, &scratch.other)
    }

    /// Byte-level pieces seen by a later pre-tokenizer: their text becomes the mapped characters.
    private func materializeByteLevel(_ list: inout PieceList, _ scratch: inout PreTokenizerScratch) {
        guard list.pieces.contains(where: { $0.isByteLevel }) else { return }
        rewrite(&list, &scratch) { bytes, out, piece in
            if piece.isByteLevel { ByteLevelAlphabet.mapped(bytes, into: &out) } else { out.append(contentsOf: bytes) }
        }
        for i in list.pieces.indices { list.pieces[i].isByteLevel = false }
    }
}
