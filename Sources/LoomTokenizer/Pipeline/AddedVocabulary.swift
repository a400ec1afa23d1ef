/// One entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Equatable, Sendable {
    public var content: String
    /// Matched only when no word character touches either end.
    public var isSingleWord: Bool
    /// Absorbs the whitespace before / after the match.
    public var stripsLeft: Bool
    public var stripsRight: Bool
    /// Matched on normalized text (after the normalizer) instead of the raw input.
    public var isNormalized: Bool
    public var isSpecial: Bool
}

/// The added tokens and how they cut text, as tokenizers' `AddedVocabulary`: first the raw text is
/// split on the tokens with `normalized: false`; each remaining piece is normalized and split again on
/// the normalized forms of the tokens with `normalized: true`. Matching is leftmost-longest.
final class AddedVocabulary {
    /// Content (UTF-8) to id.
    private(set) var ids: [[UInt8]: Int] = [:]
    private(set) var tokens: [Int: AddedToken] = [:]
    /// The normalized content of normalized tokens whose normalized form differs (what decode shows).
    private(set) var normalizedContents: [Int: String] = [:]
    private(set) var specialContents: Set<[UInt8]> = []
    private(set) var rawMatcher: TokenMatcher?
    private(set) var normalizedMatcher: TokenMatcher?

    /// Adds `entries` in file order the way tokenizers' `add_tokens` does on load: the id in the file
    /// is not used; a token already in the added or model vocabulary keeps that id, a new one takes
    /// the next free id after the model vocabulary.
    init(_ entries: [AddedToken], model: BPEModel, normalizer: Normalizer?) {
        var nextId = model.vocabularyCount
        for token in entries {
            if token.content.isEmpty { continue }
            let key = Array(token.content.utf8)
            if let id = ids[key], tokens[id] == token { continue }
            let id: Int
            if let existing = ids[key] ?? model.id(of: token.content) {
                id = existing
            } else {
                id = nextId
                nextId += 1
            }
            if token.isNormalized, let normalizer {
                var text = key
                _ = normalizer.normalize(&text)
                if text != key { normalizedContents[id] = text.lossyString }
            }
            ids[key] = id
            if token.isSpecial { specialContents.insert(key) }
            tokens[id] = token
        }
        var raw: [([UInt8], Int)] = [], normalized: [([UInt8], Int)] = []
        for (id, token) in tokens.sorted(by: { $0.key < $1.key }) {
            if token.isNormalized {
                normalized.append((normalizedContents[id].map { Array($0.utf8) } ?? Array(token.content.utf8), id))
            } else {
                raw.append((Array(token.content.utf8), id))
            }
        }
        rawMatcher = raw.isEmpty ? nil : TokenMatcher(raw)
        normalizedMatcher = normalized.isEmpty ? nil : TokenMatcher(normalized)
    }

    /// The text decode shows for an added id (normalized content for normalized tokens).
    func text(of id: Int) -> String? {
        guard let token = tokens[id] else { return nil }
        return normalizedContents[id] ?? token.content
    }

    /// Cuts `p[start..<end]` into pieces and added-token matches, as `AddedVocabulary::find_matches`:
    /// `single_word` tokens touching a word character are skipped, `lstrip`/`rstrip` widen a match
    /// over adjacent whitespace. Appends (span, id or nil); may append empty spans.
    func appendSplits(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, matcher: TokenMatcher,
                      into splits: inout [(span: Span, token: Int32)]) {
        let classifier = UnicodeClassifier()
        var offset = start
        var searchFrom = start
        while let match = matcher.nextMatch(p, from: searchFrom, end) {
            searchFrom = match.end
            let token = tokens[match.id]!
            var matchStart = match.start, matchEnd = match.end
            if token.isSingleWord {
                let before = matchStart > start
                    && classifier.classes(decodeUTF8(p, previousScalarStart(p, before: matchStart)).scalar)
                        .contains(.word)
                let after = matchEnd < end && classifier.classes(decodeUTF8(p, matchEnd).scalar).contains(.word)
                if before || after { continue }
            }
            if token.stripsLeft {
                var newStart = matchStart
                while newStart > start {
                    let k = previousScalarStart(p, before: newStart)
                    guard classifier.classes(decodeUTF8(p, k).scalar).contains(.whitespace) else { break }
                    newStart = k
                }
                matchStart = max(newStart, offset)
            }
            if token.stripsRight {
                while matchEnd < end {
                    let (scalar, length) = decodeUTF8(p, matchEnd)
                    guard classifier.classes(scalar).contains(.whitespace) else { break }
                    matchEnd += length
                }
            }
            if offset < matchStart { splits.append((Span(start: offset, end: matchStart), -1)) }
            splits.append((Span(start: matchStart, end: matchEnd), Int32(match.id)))
            offset = matchEnd
        }
        if offset < end { splits.append((Span(start: offset, end: end), -1)) }
    }
}

/// A byte trie over token contents with leftmost-longest search: the earliest start wins, then the
/// longest token starting there; the next search begins where the match ended.
final class TokenMatcher {
    private var transitions: [[(byte: UInt8, node: Int32)]] = [[]]
    private var terminal: [Int32] = [-1]
    private var isFirstByte = [Bool](repeating: false, count: 256)

    init(_ tokens: [([UInt8], Int)]) {
        for (bytes, id) in tokens where !bytes.isEmpty {
            isFirstByte[Int(bytes[0])] = true
            var node = 0
            for byte in bytes {
                if let next = transitions[node].first(where: { $0.byte == byte })?.node {
                    node = Int(next)
                } else {
                    transitions.append([])
                    terminal.append(-1)
                    transitions[node].append((byte, Int32(transitions.count - 1)))
                    node = transitions.count - 1
                }
            }
            terminal[node] = Int32(id)
        }
    }

    func nextMatch(_ p: UnsafePointer<UInt8>, from: Int, _ end: Int) -> (start: Int, end: Int, id: Int)? {
        var i = from
        while i < end {
            if isFirstByte[Int(p[i])] {
                var node = 0, j = i
                var best: (end: Int, id: Int)?
                while j < end, let next = transitions[node].first(where: { $0.byte == p[j] })?.node {
                    node = Int(next)
                    j += 1
                    if terminal[node] >= 0 { best = (j, Int(terminal[node])) }
                }
                if let best { return (i, best.end, best.id) }
            }
            i += 1
        }
        return nil
    }
}
