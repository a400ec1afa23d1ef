/// Hand-written scanners for the split regexes every byte-level tokenizer uses. Each returns where the
/// regex's match starting at `i` ends, trying the alternatives in order the way Oniguruma's
/// backtracking does; the three patterns match at every position, so their matches tile the text.
///
///     GPT-2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///     LLaMA-3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
///              |\s*[\r\n]+|\s+(?!\S)|\s+
///     Qwen2    the LLaMA-3 pattern with \p{N} (one digit) instead of \p{N}{1,3}
///
/// "Other" below is `[^\s\p{L}\p{N}]`. Tests compare these against tokenizers' own splits.
struct PreTokenizerScanner {
    let classifier = UnicodeClassifier()

    @inline(__always)
    private func classes(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UnicodeClass, Int) {
        let byte = p[i]
        if byte < 0x80 { return (UnicodeClass(rawValue: classifier.plane0[Int(byte)]), 1) }
        let (scalar, length) = decodeUTF8(p, i)
        return (classifier.classes(scalar), length)
    }

    @inline(__always)
    private func isOther(_ c: UnicodeClass) -> Bool { c.isDisjoint(with: [.whitespace, .letter, .number]) }

    /// The end of the run of characters in `cls` that starts at `i` (`i` itself if none).
    @inline(__always)
    private func run(_ p: UnsafePointer<UInt8>, from i: Int, _ end: Int, _ cls: UnicodeClass) -> Int {
        var j = i
        while j < end {
            let (c, length) = classes(p, j)
            guard !c.isDisjoint(with: cls) else { break }
            j += length
        }
        return j
    }

    @inline(__always)
    private func otherRun(_ p: UnsafePointer<UInt8>, from i: Int, _ end: Int) -> Int {
        var j = i
        while j < end {
            let (c, length) = classes(p, j)
            guard isOther(c) else { break }
            j += length
        }
        return j
    }

    /// `\s+(?!\S)|\s+` at a whitespace character: the whole run when it ends the text, else the run
    /// minus its last character (which then leads the next word), else the single character.
    @inline(__always)
    private func whitespaceMatchEnd(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let runEnd = run(p, from: i, end, .whitespace)
        if runEnd == end { return runEnd }
        let lastStart = previousScalarStart(p, before: runEnd)
        return lastStart > i ? lastStart : runEnd
    }

    // MARK: GPT-2

    func gpt2MatchEnd(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let b0 = p[i]
        if b0 == UInt8(ascii: "'"), i + 1 < end {
            switch p[i + 1] {
            case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return i + 2
            case UInt8(ascii: "r"), UInt8(ascii: "v"):
                if i + 2 < end, p[i + 2] == UInt8(ascii: "e") { return i + 3 }
            case UInt8(ascii: "l"):
                if i + 2 < end, p[i + 2] == UInt8(ascii: "l") { return i + 3 }
            default: break
            }
        }
        if b0 == 0x20, i + 1 < end {
            let (c1, l1) = classes(p, i + 1)
            if c1.contains(.letter) { return run(p, from: i + 1 + l1, end, .letter) }
            if c1.contains(.number) { return run(p, from: i + 1 + l1, end, .number) }
            if isOther(c1) { return otherRun(p, from: i + 1 + l1, end) }
        }
        let (c0, l0) = classes(p, i)
        if c0.contains(.letter) { return run(p, from: i + l0, end, .letter) }
        if c0.contains(.number) { return run(p, from: i + l0, end, .number) }
        if !c0.contains(.whitespace) { return otherRun(p, from: i + l0, end) }
        return whitespaceMatchEnd(p, i, end)
    }

    // MARK: LLaMA-3 and Qwen2

    /// The lowercase ASCII letter `scalar` case-folds to, for the `(?i:…)` contractions. Oniguruma's
    /// simple case folding also maps U+017F LATIN SMALL LETTER LONG S to 's' (checked exhaustively).
    @inline(__always)
    private func folded(_ scalar: UInt32) -> UInt32 {
        if scalar >= 0x41 && scalar <= 0x5A { return scalar | 0x20 }
        if scalar == 0x17F { return 0x73 }
        return scalar
    }

    /// `maxDigits` is 3 for LLaMA-3 (`\p{N}{1,3}`) and 1 for Qwen2 (`\p{N}`).
    func tiktokenMatchEnd(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int, maxDigits: Int) -> Int {
        if p[i] == UInt8(ascii: "'"), i + 1 < end {
            let (s1, l1) = decodeUTF8(p, i + 1)
            switch folded(s1) {
            case 0x73, 0x74, 0x6D, 0x64:  // s t m d
                return i + 1 + l1
            case 0x72, 0x76, 0x6C:  // r v l, then e e l
                let second: UInt32 = folded(s1) == 0x6C ? 0x6C : 0x65
                if i + 1 + l1 < end {
                    let (s2, l2) = decodeUTF8(p, i + 1 + l1)
                    if folded(s2) == second { return i + 1 + l1 + l2 }
                }
            default: break
            }
        }
        let (s0, l0) = decodeUTF8(p, i)
        let c0 = classifier.classes(s0)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if s0 != 0x0D, s0 != 0x0A, c0.isDisjoint(with: [.letter, .number]), i + l0 < end {
            let (c1, l1) = classes(p, i + l0)
            if c1.contains(.letter) { return run(p, from: i + l0 + l1, end, .letter) }
        }
        if c0.contains(.letter) { return run(p, from: i + l0, end, .letter) }
        // \p{N}{1,maxDigits}
        if c0.contains(.number) {
            var j = i + l0, count = 1
            while count < maxDigits, j < end {
                let (c, length) = classes(p, j)
                guard c.contains(.number) else { break }
                j += length
                count += 1
            }
            return j
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        if s0 == 0x20, i + 1 < end {
            let (c1, l1) = classes(p, i + 1)
            if isOther(c1) { return lineBreakRun(p, from: otherRun(p, from: i + 1 + l1, end), end) }
        }
        if isOther(c0) { return lineBreakRun(p, from: otherRun(p, from: i + l0, end), end) }
        // \s*[\r\n]+ : through the last line break of the whitespace run
        let runEnd = run(p, from: i, end, .whitespace)
        var j = runEnd
        while j > i {
            let k = previousScalarStart(p, before: j)
            if p[k] == 0x0D || p[k] == 0x0A { return k + 1 }
            j = k
        }
        // \s+(?!\S)|\s+
        if runEnd == end { return runEnd }
        let lastStart = previousScalarStart(p, before: runEnd)
        return lastStart > i ? lastStart : runEnd
    }

    @inline(__always)
    private func lineBreakRun(_ p: UnsafePointer<UInt8>, from i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, p[j] == 0x0D || p[j] == 0x0A { j += 1 }
        return j
    }

    // MARK: Whitespace pre-tokenizer

    /// `\w+|[^\w\s]+` (Rust regex): the match that starts at or after `i`, or nil.
    func wordOrSymbolMatch(_ p: UnsafePointer<UInt8>, from i: Int, _ end: Int) -> (start: Int, end: Int)? {
        var start = i
        while start < end {
            let (c, length) = classes(p, start)
            if c.contains(.word) { return (start, run(p, from: start + length, end, .word)) }
            if !c.contains(.whitespace) {
                var j = start + length
                while j < end {
                    let (cj, lj) = classes(p, j)
                    guard cj.isDisjoint(with: [.word, .whitespace]) else { break }
                    j += lj
                }
                return (start, j)
            }
            start += length
        }
        return nil
    }
}
