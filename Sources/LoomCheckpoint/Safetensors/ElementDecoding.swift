/// Little-endian element decoding from possibly unaligned bytes (the data buffer is 8-byte aligned
/// only by convention, and individual tensors need not be aligned at all).
enum ElementDecoding {
    /// Writes `count` elements of `dtype` from `bytes` into `out` as Float32. Returns false for
    /// types without a Float32 conversion here (F4, F6, F8, C64).
    static func decodeFloats(_ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int,
                             into out: UnsafeMutablePointer<Float>) -> Bool {
        precondition(bytes.count * 8 == count * dtype.bitSize, "byte count was validated with the header")
        switch dtype {
        case .f32:
            #if _endian(little)
            if count > 0, let source = bytes.baseAddress {
                UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            }
            #else
            for i in 0..<count { out[i] = Float(bitPattern: load(bytes, i, UInt32.self)) }
            #endif
        case .f16:
            for i in 0..<count { out[i] = HalfPrecision.float(float16Bits: load(bytes, i, UInt16.self)) }
        case .bf16:
            for i in 0..<count { out[i] = HalfPrecision.float(bfloat16Bits: load(bytes, i, UInt16.self)) }
        case .f64:
            for i in 0..<count { out[i] = Float(Double(bitPattern: load(bytes, i, UInt64.self))) }
        case .i64: for i in 0..<count { out[i] = Float(load(bytes, i, Int64.self)) }
        case .u64: for i in 0..<count { out[i] = Float(load(bytes, i, UInt64.self)) }
        case .i32: for i in 0..<count { out[i] = Float(load(bytes, i, Int32.self)) }
        case .u32: for i in 0..<count { out[i] = Float(load(bytes, i, UInt32.self)) }
        case .i16: for i in 0..<count { out[i] = Float(load(bytes, i, Int16.self)) }
        case .u16: for i in 0..<count { out[i] = Float(load(bytes, i, UInt16.self)) }
        case .i8: for i in 0..<count { out[i] = Float(load(bytes, i, Int8.self)) }
        case .u8: for i in 0..<count { out[i] = Float(load(bytes, i, UInt8.self)) }
        case .bool: for i in 0..<count { out[i] = load(bytes, i, UInt8.self) == 0 ? 0 : 1 }
        default: return false
        }
        return true
    }

    /// Decodes integer (or BOOL) elements. Throws `IntegerOverflow` for a U64 value above `Int.max`.
    static func decodeIntegers(_ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int) throws -> [Int]? {
        precondition(bytes.count * 8 == count * dtype.bitSize, "byte count was validated with the header")
        switch dtype {
        case .i64: return (0..<count).map { Int(load(bytes, $0, Int64.self)) }
        case .u64:
            return try (0..<count).map { index in
                let value = load(bytes, index, UInt64.self)
                guard let exact = Int(exactly: value) else { throw IntegerOverflow(index: index, value: value) }
                return exact
            }
        case .i32: return (0..<count).map { Int(load(bytes, $0, Int32.self)) }
        case .u32: return (0..<count).map { Int(load(bytes, $0, UInt32.self)) }
        case .i16: return (0..<count).map { Int(load(bytes, $0, Int16.self)) }
        case .u16: return (0..<count).map { Int(load(bytes, $0, UInt16.self)) }
        case .i8: return (0..<count).map { Int(load(bytes, $0, Int8.self)) }
        case .u8: return (0..<count).map { Int(load(bytes, $0, UInt8.self)) }
        case .bool: return (0..<count).map { load(bytes, $0, UInt8.self) == 0 ? 0 : 1 }
        default: return nil
        }
    }

    struct IntegerOverflow: Error {
        let index: Int
        let value: UInt64
    }

    @inline(__always)
    private static func load<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ index: Int, _: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
    }
}
