/// String operations with Python `str` semantics, for the steps of LLaVA's preprocessing that Loom
/// reproduces (`"<image>" in value`, `value.replace(…)`, `.strip()`, `conversation.split("</s>")`,
/// `prompt.split("<image>")`).
///
/// Python works on code points. Swift's `String` searches and compares by Character (grapheme
/// cluster, canonical equivalence). So `"<image>\u{301}"` does not contain "<image>" for Swift (the
/// ">" and the combining accent form one Character), while Python finds it. These functions search
/// the UTF-8 bytes instead: a valid UTF-8 needle found in valid UTF-8 text always starts and ends on
/// code point boundaries, so byte matches are exactly Python's code point matches.
enum PythonText {
    /// The start offsets (UTF-8) of the non-overlapping occurrences of `needle`, left to right (as
    /// `str.count`, `str.split` and `str.replace` find them). `needle` must not be empty.
    static func occurrences(of needle: String, in text: String) -> [Int] {
        let n = Array(needle.utf8), t = Array(text.utf8)
        precondition(!n.isEmpty, "empty separator")
        guard t.count >= n.count else { return [] }
        var found: [Int] = []
        var i = 0
        while i <= t.count - n.count {
            if t[i] == n[0] && t[i..<(i + n.count)].elementsEqual(n) {
                found.append(i)
                i += n.count
            } else {
                i += 1
            }
        }
        return found
    }

    /// `needle in text`.
    static func contains(_ text: String, _ needle: String) -> Bool { !occurrences(of: needle, in: text).isEmpty }

    /// `text.count(needle)`.
    static func count(_ needle: String, in text: String) -> Int { occurrences(of: needle, in: text).count }

    /// `text.split(separator)` (a non-empty separator): n occurrences give n + 1 pieces.
    static func split(_ text: String, _ separator: String) -> [String] {
        let bytes = Array(text.utf8)
        let width = separator.utf8.count
        var pieces: [String] = []
        var start = 0
        for offset in occurrences(of: separator, in: text) {
            pieces.append(String(decoding: bytes[start..<offset], as: UTF8.self))
            start = offset + width
        }
        pieces.append(String(decoding: bytes[start...], as: UTF8.self))
        return pieces
    }

    /// `text.replace(needle, replacement)`.
    static func replace(_ text: String, _ needle: String, with replacement: String) -> String {
        split(text, needle).joined(separator: replacement)
    }

    /// `str.isspace()` for one code point: bidirectional class WS, B or S, or category Zs. Unlike
    /// Foundation's `whitespacesAndNewlines` this includes the information separators U+001C–U+001F.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `text.strip()`: leading and trailing `isSpace` code points removed.
    static func strip(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }
}
