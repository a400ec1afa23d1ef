/// Conversions between Float32 and the 16-bit float formats, with the exact semantics of SPECS §1.6.
public enum HalfPrecision {
    /// bfloat16 → Float32 is exact: the 16 bits are the top half of the Float32.
    @inlinable
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Float32 → bfloat16 as PyTorch's scalar path does it: round to nearest even, every NaN → 0x7FC0.
    @inlinable
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        // Adding 0x7FFF plus the lowest kept bit rounds ties to even; it cannot overflow past
        // infinity's exponent into the sign for finite inputs, and leaves infinities unchanged.
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// IEEE binary16 → Float32, exact, by the bit formula of SPECS §1.6. Written out rather than
    /// `Float(Float16)` so NaN payloads (signaling ones included) come through unchanged whatever
    /// instruction the compiler picks; the hardware conversion would quiet them.
    @inlinable
    public static func float(float16Bits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Subnormal or zero: m · 2^-24, exact in Float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// Float32 → IEEE binary16, round to nearest even (overflow becomes ±infinity).
    @inlinable
    public static func float16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }
}
