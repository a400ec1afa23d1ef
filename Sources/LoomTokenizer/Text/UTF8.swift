/// Small UTF-8 helpers for text that is already valid UTF-8 (Swift strings and slices of them cut at
/// character boundaries), so decoding needs no validation.

/// Appends the UTF-8 encoding of `scalar`.
@inline(__always)
func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
        bytes.append(UInt8(scalar))
    case 0x80..<0x800:
        bytes.append(UInt8(0xC0 | (scalar >> 6)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    case 0x800..<0x10000:
        bytes.append(UInt8(0xE0 | (scalar >> 12)))
        bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    default:
        bytes.append(UInt8(0xF0 | (scalar >> 18)))
        bytes.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}

/// The number of bytes of the UTF-8 sequence that starts with `lead`.
@inline(__always)
func utf8Length(lead: UInt8) -> Int {
    if lead < 0x80 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}

/// Decodes the scalar that starts at `p[i]`; returns it and its length in bytes.
@inline(__always)
func decodeUTF8(_ p: UnsafePointer<UInt8>, _ i: Int) -> (scalar: UInt32, length: Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
            | UInt32(p[i + 3] & 0x3F), 4)
}

/// The offset of the first byte of the scalar that ends just before `end` (which must be > start).
@inline(__always)
func previousScalarStart(_ p: UnsafePointer<UInt8>, before end: Int) -> Int {
    var i = end - 1
    while p[i] & 0xC0 == 0x80 { i -= 1 }
    return i
}

extension Array where Element == UInt8 {
    /// The bytes as a String, invalid sequences replaced with U+FFFD.
    var lossyString: String { String(decoding: self, as: UTF8.self) }
}
