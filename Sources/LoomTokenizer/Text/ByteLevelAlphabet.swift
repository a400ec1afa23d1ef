/// GPT-2's byte-to-character table: every byte is shown as a printable character so a byte-level
/// vocabulary can be stored as text. Bytes 0x21–0x7E, 0xA1–0xAC and 0xAE–0xFF stand for themselves;
/// the other 68, in increasing order, become U+0100 + n (so space 0x20 is 'Ġ' U+0120, '\n' is 'Ċ').
enum ByteLevelAlphabet {
    /// The character of each byte.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte of each character below U+0144, or -1 for characters outside the alphabet.
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarOfByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// The byte `scalar` stands for, or nil when it is not in the alphabet.
    @inline(__always)
    static func byte(of scalar: UInt32) -> UInt8? {
        guard scalar < 0x144 else { return nil }
        let byte = byteOfScalar[Int(scalar)]
        return byte < 0 ? nil : UInt8(byte)
    }

    /// The UTF-8 of the mapped text of `bytes` (what tokenizers' ByteLevel pre-tokenizer produces).
    static func mapped(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        for byte in bytes { appendUTF8(scalarOfByte[Int(byte)], to: &out) }
    }

    /// The raw bytes a mapped text stands for, or nil if some character is outside the alphabet.
    static func unmapped(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for scalar in text.unicodeScalars {
            guard let byte = byte(of: scalar.value) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
