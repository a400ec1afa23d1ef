import Foundation

/// A byte range of a UTF-8 buffer.
struct Span: Equatable {
    var start: Int
    var end: Int
    var isEmpty: Bool { start == end }
}

/// What Split, Replace and the character-class pre-tokenizers look for in text. Matches are byte
/// ranges, in order and non-overlapping, as Oniguruma's `find_iter` reports them.
enum TextPattern {
    /// A string pattern (tokenizers escapes it into a literal regex).
    case literal([UInt8])
    /// The GPT-2, LLaMA-3 and Qwen2 split regexes, recognised by their exact text and scanned by hand.
    case gpt2, llama3, qwen2
    /// `\w+|[^\w\s]+` with Rust regex classes (the Whitespace pre-tokenizer).
    case wordsOrSymbols
    /// Every character of a class is a match of its own (Digits, Punctuation, WhitespaceSplit, Bert).
    case eachCharacter(UnicodeClass)
    /// Every occurrence of one character is a match of its own (Metaspace's split, CharDelimiterSplit).
    case eachScalar(UInt32)
    /// Any other regex, run by ICU (NSRegularExpression); see `RegexMatcher` for the differences.
    case regex(RegexMatcher)

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The pattern of a `{"Regex": source}`: a hand scanner for the known sources, else ICU.
    static func regex(_ source: String) throws -> TextPattern {
        switch source {
        case gpt2Source: return .gpt2
        case llama3Source: return .llama3
        case qwen2Source: return .qwen2
        default: return .regex(try RegexMatcher(source))
        }
    }

    /// Appends the matches inside `p[start..<end]`.
    func appendMatches(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into matches: inout [Span]) {
        switch self {
        case .literal(let needle):
            guard !needle.isEmpty else { return }
            appendLiteralMatches(needle, p, start, end, into: &matches)
        case .gpt2:
            let scanner = PreTokenizerScanner()
            var i = start
            while i < end {
                let j = scanner.gpt2MatchEnd(p, i, end)
                matches.append(Span(start: i, end: j))
                i = j
            }
        case .llama3, .qwen2:
            let scanner = PreTokenizerScanner()
            let maxDigits: Int
            if case .llama3 = self { maxDigits = 3 } else { maxDigits = 1 }
            var i = start
            while i < end {
                let j = scanner.tiktokenMatchEnd(p, i, end, maxDigits: maxDigits)
                matches.append(Span(start: i, end: j))
                i = j
            }
        case .wordsOrSymbols:
            let scanner = PreTokenizerScanner()
            var i = start
            while let match = scanner.wordOrSymbolMatch(p, from: i, end) {
                matches.append(Span(start: match.start, end: match.end))
                i = match.end
            }
        case .eachCharacter(let cls):
            let classifier = UnicodeClassifier()
            var i = start
            while i < end {
                let (scalar, length) = decodeUTF8(p, i)
                if !classifier.classes(scalar).isDisjoint(with: cls) { matches.append(Span(start: i, end: i + length)) }
                i += length
            }
        case .eachScalar(let target):
            var i = start
            while i < end {
                let (scalar, length) = decodeUTF8(p, i)
                if scalar == target { matches.append(Span(start: i, end: i + length)) }
                i += length
            }
        case .regex(let matcher):
            matcher.appendMatches(p, start, end, into: &matches)
        }
    }

    private func appendLiteralMatches(_ needle: [UInt8], _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int,
                                      into matches: inout [Span]) {
        let count = needle.count
        let first = needle[0]
        var i = start
        while i + count <= end {
            if p[i] == first {
                var k = 1
                while k < count, p[i + k] == needle[k] { k += 1 }
                if k == count {
                    matches.append(Span(start: i, end: i + count))
                    i += count
                    continue
                }
            }
            i += 1
        }
    }

    /// The whole range cut into (span, isMatch) segments, as tokenizers' `Pattern::find_matches`:
    /// matches and the gaps between them, in order, covering `start..<end` (one non-match for empty text).
    func segments(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, matches: inout [Span],
                  into segments: inout [(span: Span, isMatch: Bool)]) {
        segments.removeAll(keepingCapacity: true)
        guard start < end else {
            segments.append((Span(start: start, end: start), false))
            return
        }
        matches.removeAll(keepingCapacity: true)
        appendMatches(p, start, end, into: &matches)
        var previous = start
        for match in matches {
            if previous != match.start { segments.append((Span(start: previous, end: match.start), false)) }
            segments.append((match, true))
            previous = match.end
        }
        if previous != end { segments.append((Span(start: previous, end: end), false)) }
    }
}

/// A regex with no hand scanner, run through ICU. ICU and Oniguruma agree on the syntax tokenizer
/// files use (classes, \p{…}, lookaround, (?i:…), possessive and lazy quantifiers); `^`/`$` match at
/// line breaks as in Oniguruma's Ruby syntax. Known differences: `.` also stops at \r, U+0085,
/// U+2028 and U+2029 in ICU, and `\h` means hex digit in Oniguruma but horizontal space in ICU.
final class RegexMatcher {
    let source: String
    private let regex: NSRegularExpression

    init(_ source: String) throws {
        self.source = source
        do {
            regex = try NSRegularExpression(pattern: source, options: [.anchorsMatchLines])
        } catch {
            throw TokenizerError("invalid regex '\(source)' (ICU cannot compile it)")
        }
    }

    func appendMatches(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into matches: inout [Span]) {
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
        // UTF-16 offset -> UTF-8 offset, for converting NSRange back to bytes.
        var utf8Offsets: [Int] = []
        utf8Offsets.reserveCapacity(end - start + 1)
        var offset = 0
        for scalar in text.unicodeScalars {
            let width = scalar.value < 0x80 ? 1 : scalar.value < 0x800 ? 2 : scalar.value < 0x10000 ? 3 : 4
            utf8Offsets.append(offset)
            if scalar.value >= 0x10000 { utf8Offsets.append(offset) }
            offset += width
        }
        utf8Offsets.append(offset)
        let range = NSRange(location: 0, length: utf8Offsets.count - 1)
        for match in regex.matches(in: text, options: [], range: range) {
            let r = match.range
            matches.append(Span(start: start + utf8Offsets[r.location], end: start + utf8Offsets[r.location + r.length]))
        }
    }
}
