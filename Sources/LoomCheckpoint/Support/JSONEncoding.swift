/// JSON text output for the two writers Loom must match byte for byte: serde_json (the Rust
/// safetensors header) and Python's `json.dumps` (the Hugging Face shard index).
enum JSONEncoding {
    /// How strings are escaped.
    enum Style {
        /// serde_json: escape `"`, `\` and C0 controls (short forms where they exist); UTF-8 passes through.
        case serde
        /// Python `json.dumps(ensure_ascii=True)`: additionally escape every byte outside ' '...'~'
        /// as `\uXXXX` (UTF-16 surrogate pairs above the BMP).
        case pythonASCII
    }

    static func appendString(_ string: String, style: Style, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in string.unicodeScalars {
            switch scalar.value {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0..<0x20: appendUnicodeEscape(UInt16(scalar.value), to: &out)
            case 0x20..<0x7F: out.append(UInt8(scalar.value))
            default:
                if style == .serde {
                    out.append(contentsOf: Array(String(scalar).utf8))
                } else {
                    for unit in String(scalar).utf16 { appendUnicodeEscape(unit, to: &out) }
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: Array(String(value).utf8))
    }

    static func appendIntegerArray(_ values: [Int], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (position, value) in values.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            appendInteger(value, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// `\u` plus four lowercase hex digits, as both serde_json and Python write them.
    private static func appendUnicodeEscape(_ unit: UInt16, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(hex[Int((unit >> UInt16(shift)) & 0xF)])
        }
    }
}

/// Bytewise comparison of UTF-8, which is how Rust orders `String`s (Swift's `<` on `String`
/// follows Unicode canonical ordering, which can differ for non-ASCII names).
func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
}
