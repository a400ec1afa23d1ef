/// The element types a safetensors header can name (SPECS §1.4).
///
/// Case order is the reference `Dtype` enum's order ("increasing alignment"); the writer sorts
/// tensors by it, so it is part of the byte layout and must not be rearranged.
public enum DType: String, CaseIterable, Sendable, Comparable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case f8E4M3FNUZ = "F8_E4M3FNUZ"
    case f8E5M2FNUZ = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// The name used in the header JSON.
    public var name: String { rawValue }

    /// Bits per element; sub-byte types (F4, F6) pack several elements per byte.
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6E2M3, .f6E3M2: return 6
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Position in the reference enum, which defines the writer's ordering.
    var order: Int { DType.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: DType, rhs: DType) -> Bool { lhs.order < rhs.order }

    /// Types `SafetensorsFile.tensor(_:)` converts to Float32.
    public var isConvertibleToFloat: Bool {
        switch self {
        case .f32, .f16, .bf16, .f64, .i64, .i32, .i16, .i8, .u8, .u16, .u32, .u64, .bool: return true
        default: return false
        }
    }

    /// Types `SafetensorsFile.intTensor(_:)` reads as integers.
    public var isInteger: Bool {
        switch self {
        case .i64, .i32, .i16, .i8, .u8, .u16, .u32, .u64, .bool: return true
        default: return false
        }
    }
}
