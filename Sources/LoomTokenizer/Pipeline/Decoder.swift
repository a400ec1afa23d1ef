/// The decoders of tokenizer.json. Each maps the list of token strings to a new list (tokenizers'
/// `decode_chain`); the final list is concatenated. Characters are Unicode scalars (Rust `char`s),
/// never Swift Characters, and text is compared byte for byte.
indirect enum Decoder {
    /// Characters back to bytes through the GPT-2 table (a token with a character outside the table
    /// keeps its UTF-8), all tokens joined, then decoded as UTF-8 with U+FFFD for invalid bytes.
    case byteLevel
    /// Runs of `<0xHH>` tokens become the bytes' UTF-8 text, or one U+FFFD per byte when invalid.
    case byteFallback
    /// All tokens joined into one.
    case fuse
    /// Removes up to `start` leading and `stop` trailing `content` characters of every token.
    case strip(content: UInt32, start: Int, stop: Int)
    case replace(TextPattern, [UInt8])
    /// `replacement` becomes a space, except in the first token unless the scheme is "never".
    case metaspace(replacement: UInt32, scheme: PrependScheme)
    /// `suffix` becomes a space, or nothing in the last token.
    case bpe(suffix: [UInt8])
    /// Tokens without `prefix` get a leading space (except the first); `cleanup` tidies punctuation.
    case wordPiece(prefix: String, cleanup: Bool)
    case sequence([Decoder])

    func decoded(_ tokens: [String]) -> String {
        decodeChain(tokens).joined()
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let decoders):
            var current = tokens
            for decoder in decoders { current = decoder.decodeChain(current) }
            return current
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let start = bytes.count
                var inAlphabet = true
                for scalar in token.unicodeScalars {
                    guard let byte = ByteLevelAlphabet.byte(of: scalar.value) else { inAlphabet = false; break }
                    bytes.append(byte)
                }
                if !inAlphabet {
                    bytes.removeLast(bytes.count - start)
                    bytes.append(contentsOf: token.utf8)
                }
            }
            return [bytes.lossyString]
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    out.append(text)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let byte = Decoder.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var startCut = 0
                for (i, scalar) in scalars.prefix(start).enumerated() {
                    guard scalar.value == content else { break }
                    startCut = i + 1
                }
                var stopCut = scalars.count
                var i = 0
                while i < stop, scalars.count - i - 1 >= 0 {
                    let index = scalars.count - i - 1
                    guard scalars[index].value == content else { break }
                    stopCut = index
                    i += 1
                }
                guard startCut < stopCut else { return "" }
                var result = String.UnicodeScalarView()
                result.append(contentsOf: scalars[startCut..<stopCut])
                return String(result)
            }
        case .replace(let pattern, let content):
            return tokens.map { token in
                var bytes = Array(token.utf8)
                var matches: [Span] = []
                bytes.withUnsafeBufferPointer { pattern.appendMatches($0.baseAddress ?? emptyBytes, 0, $0.count, into: &matches) }
                guard !matches.isEmpty else { return token }
                var out: [UInt8] = []
                var previous = 0
                for match in matches {
                    out.append(contentsOf: bytes[previous..<match.start])
                    out.append(contentsOf: content)
                    previous = match.end
                }
                out.append(contentsOf: bytes[previous...])
                bytes = out
                return bytes.lossyString
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { index, token in
                var result = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar.value == replacement {
                        if index == 0 && scheme != .never { continue }
                        result.append(" ")
                    } else {
                        result.append(scalar)
                    }
                }
                return String(result)
            }
        case .bpe(let suffix):
            let last = tokens.count - 1
            return tokens.enumerated().map { index, token in
                Decoder.replacingLiteral(suffix, in: token, with: index == last ? [] : [0x20])
            }
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { index, token in
                var text = token
                if index != 0 {
                    if text.utf8.starts(with: prefix.utf8) {
                        text = String(decoding: text.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                    } else {
                        text = " " + text
                    }
                }
                return cleanup ? Decoder.cleanedUp(text) : text
            }
        }
    }

    /// The byte of a `<0xHH>` token (six characters; hex digits in either case).
    static func fallbackByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
              utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    static func replacingLiteral(_ needle: [UInt8], in token: String, with replacement: [UInt8]) -> String {
        guard !needle.isEmpty else { return token }
        let bytes = Array(token.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if i + needle.count <= bytes.count, bytes[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(contentsOf: replacement)
                i += needle.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out.lossyString
    }

    /// WordPiece's `cleanup`: the replacements in tokenizers' order.
    static func cleanedUp(_ text: String) -> String {
        let rules: [(String, String)] = [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ]
        var result = text
        for (from, to) in rules { result = replacingLiteral(Array(from.utf8), in: result, with: Array(to.utf8)) }
        return result
    }
}
