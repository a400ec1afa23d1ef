import Foundation

/// The normalizers of tokenizer.json, applied to UTF-8 bytes. Each reports whether the text still
/// begins at its original first character (false when leading characters were removed), which is
/// all Loom tracks of tokenizers' alignments: Metaspace's `prepend_scheme: "first"` needs it.
indirect enum Normalizer {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case strip(left: Bool, right: Bool)
    case stripAccents
    case prepend([UInt8])
    case replace(TextPattern, [UInt8])
    case nmt
    case sequence([Normalizer])

    /// Normalizes `text` in place; returns false when leading characters were removed.
    func normalize(_ text: inout [UInt8]) -> Bool {
        switch self {
        case .nfc, .nfd, .nfkc, .nfkd:
            if text.allSatisfy({ $0 < 0x80 }) { return true }  // ASCII is invariant under all four
            if case .nfc = self, isStablyComposed(text) { return true }
            let string = text.lossyString
            let normalized: String
            switch self {
            case .nfc: normalized = string.precomposedStringWithCanonicalMapping
            case .nfd: normalized = string.decomposedStringWithCanonicalMapping
            case .nfkc: normalized = string.precomposedStringWithCompatibilityMapping
            default: normalized = string.decomposedStringWithCompatibilityMapping
            }
            text = Array(normalized.utf8)
            return true
        case .lowercase:
            if text.allSatisfy({ $0 < 0x80 }) {
                for i in text.indices where text[i] >= 0x41 && text[i] <= 0x5A { text[i] |= 0x20 }
                return true
            }
            var out: [UInt8] = []
            out.reserveCapacity(text.count)
            for scalar in text.lossyString.unicodeScalars {
                if scalar.value < 0x80 {
                    let byte = UInt8(scalar.value)
                    out.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                } else {
                    out.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                }
            }
            text = out
            return true
        case .strip(let left, let right):
            return strip(&text, left: left, right: right)
        case .stripAccents:
            return filter(&text) { !UnicodeClass.of($0).contains(.mark) }
        case .prepend(let prefix):
            if !text.isEmpty { text.insert(contentsOf: prefix, at: 0) }
            return true
        case .replace(let pattern, let content):
            return replace(&text, pattern, content)
        case .nmt:
            let keeps = filter(&text) { value in
                !((0x0001...0x0008).contains(value) || value == 0x000B || (0x000E...0x001F).contains(value)
                  || value == 0x007F || value == 0x008F || value == 0x009F)
            }
            var out: [UInt8] = []
            for scalar in text.lossyString.unicodeScalars {
                switch scalar.value {
                case 0x0009, 0x000A, 0x000C, 0x000D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD:
                    out.append(0x20)
                default:
                    appendUTF8(scalar.value, to: &out)
                }
            }
            text = out
            return keeps
        case .sequence(let normalizers):
            var keeps = true
            for normalizer in normalizers where !normalizer.normalize(&text) { keeps = false }
            return keeps
        }
    }

    /// A quick NFC check: text made only of characters that are unchanged by NFC and never combine with
    /// a neighbour (below U+0300, CJK ideographs, kana without the voicing marks, Hangul syllables
    /// with no jamo, common emoji) is already NFC.
    private func isStablyComposed(_ text: [UInt8]) -> Bool {
        text.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress!
            var i = 0
            while i < buffer.count {
                let (scalar, length) = decodeUTF8(p, i)
                switch scalar {
                case 0..<0x300, 0x3000...0x3098, 0x309B...0x30FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3,
                     0xFF01...0xFF5E, 0x1F300...0x1FAFF:
                    i += length
                default:
                    return false
                }
            }
            return true
        }
    }

    private func strip(_ text: inout [UInt8], left: Bool, right: Bool) -> Bool {
        let classifier = UnicodeClassifier()
        var start = 0, end = text.count
        text.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            if left {
                while start < end {
                    let (scalar, length) = decodeUTF8(p, start)
                    guard classifier.classes(scalar).contains(.whitespace) else { break }
                    start += length
                }
            }
            if right {
                while end > start {
                    let k = previousScalarStart(p, before: end)
                    guard classifier.classes(decodeUTF8(p, k).scalar).contains(.whitespace) else { break }
                    end = k
                }
            }
        }
        if start > 0 || end < text.count { text = Array(text[start..<end]) }
        return start == 0
    }

    private func filter(_ text: inout [UInt8], keeping keep: (UInt32) -> Bool) -> Bool {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var keptAny = false, leadingRemoved = false
        text.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            var i = 0
            while i < buffer.count {
                let (scalar, length) = decodeUTF8(p, i)
                if keep(scalar) {
                    out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: length))
                    keptAny = true
                } else if !keptAny {
                    leadingRemoved = true
                }
                i += length
            }
        }
        text = out
        return !leadingRemoved
    }

    private func replace(_ text: inout [UInt8], _ pattern: TextPattern, _ content: [UInt8]) -> Bool {
        var matches: [Span] = []
        text.withUnsafeBufferPointer { buffer in
            pattern.appendMatches(buffer.baseAddress ?? emptyBytes, 0, buffer.count, into: &matches)
        }
        guard !matches.isEmpty else { return true }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var previous = 0
        for match in matches {
            out.append(contentsOf: text[previous..<match.start])
            out.append(contentsOf: content)
            previous = match.end
        }
        out.append(contentsOf: text[previous...])
        // A replacement takes the alignment of the last replaced character: the text keeps its start
        // only if a match at 0 is one character and puts something in its place.
        var keeps = true
        if let first = matches.first, first.start == 0, first.end > 0 {
            keeps = !content.isEmpty && utf8Length(lead: text[0]) == first.end
        }
        text = out
        return keeps
    }
}
