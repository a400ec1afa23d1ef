import LoomTensor

/// Writes safetensors files byte-identical to the reference writer (SPECS §1.5), atomically.
public enum SafetensorsWriter {
    /// One tensor to write: its name, its values and the dtype to store them as.
    public struct Entry {
        public enum Values {
            case floats(Tensor)
            case integers(IntTensor)
        }

        public let name: String
        public let values: Values
        public let dtype: DType

        /// Float values stored as F32, F16, BF16 or F64 (narrowing rounds to nearest even).
        public init(_ name: String, _ tensor: Tensor, as dtype: DType = .f32) {
            self.name = name
            self.values = .floats(tensor)
            self.dtype = dtype
        }

        /// Integer values stored as I64, I32, I16, I8, U8 or BOOL (values must fit the type).
        public init(_ name: String, _ integers: IntTensor, as dtype: DType = .i64) {
            self.name = name
            self.values = .integers(integers)
            self.dtype = dtype
        }

        public var shape: [Int] {
            switch values {
            case .floats(let tensor): return tensor.shape
            case .integers(let integers): return integers.shape
            }
        }

        var elementCount: Int {
            switch values {
            case .floats(let tensor): return tensor.count
            case .integers(let integers): return integers.count
            }
        }

        var byteCount: Int { elementCount * dtype.bitSize / 8 }
    }

    public static let floatDTypes: [DType] = [.f32, .f16, .bf16, .f64]
    public static let integerDTypes: [DType] = [.i64, .i32, .i16, .i8, .u8, .bool]

    /// Writes `entries` (any order; the file's order is the reference's) with optional metadata.
    public static func write(_ entries: [Entry], metadata: [String: String]? = nil, to path: String) throws {
        let ordered = try validatedOrder(entries, path: path)
        let header = encodedHeader(ordered, metadata: metadata)
        let file = try AtomicFileWriter(path: path)
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try file.append($0) }
        try file.append(header)
        for entry in ordered {
            try writeValues(of: entry, to: file)
        }
        try file.commit()
    }

    /// Writes float tensors, each with its own dtype.
    public static func write(_ tensors: [(String, Tensor, DType)], metadata: [String: String]? = nil,
                             to path: String) throws {
        try write(tensors.map { Entry($0.0, $0.1, as: $0.2) }, metadata: metadata, to: path)
    }

    /// Writes float tensors, all stored as `dtype`.
    public static func write(_ tensors: [String: Tensor], as dtype: DType = .f32,
                             metadata: [String: String]? = nil, to path: String) throws {
        try write(tensors.map { Entry($0.key, $0.value, as: dtype) }, metadata: metadata, to: path)
    }

    // MARK: Layout

    /// Checks names and dtypes, then orders as the reference does: dtype descending, then name.
    static func validatedOrder(_ entries: [Entry], path: String) throws -> [Entry] {
        var seen = Set<String>()
        for entry in entries {
            guard entry.name != "__metadata__" else {
                throw CheckpointError(path: path, tensor: entry.name, "name is reserved for the metadata map")
            }
            guard seen.insert(entry.name).inserted else {
                throw CheckpointError(path: path, tensor: entry.name, "name given twice")
            }
            switch entry.values {
            case .floats:
                guard floatDTypes.contains(entry.dtype) else {
                    throw CheckpointError(path: path, tensor: entry.name, "float values cannot be written as \(entry.dtype.name); use one of \(floatDTypes.map(\.name))")
                }
            case .integers:
                guard integerDTypes.contains(entry.dtype) else {
                    throw CheckpointError(path: path, tensor: entry.name, "integer values cannot be written as \(entry.dtype.name); use one of \(integerDTypes.map(\.name))")
                }
            }
        }
        return entries.sorted { lhs, rhs in
            lhs.dtype != rhs.dtype ? lhs.dtype > rhs.dtype : utf8Precedes(lhs.name, rhs.name)
        }
    }

    /// Compact serde-style JSON: `__metadata__` first (keys sorted, since the reference's map order
    /// is unspecified), then tensors in offset order, padded with spaces to a multiple of 8.
    static func encodedHeader(_ ordered: [Entry], metadata: [String: String]?) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        var needsComma = false
        if let metadata {
            JSONEncoding.appendString("__metadata__", style: .serde, to: &out)
            out.append(contentsOf: Array(":{".utf8))
            for (position, key) in metadata.keys.sorted(by: utf8Precedes).enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONEncoding.appendString(key, style: .serde, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONEncoding.appendString(metadata[key] ?? "", style: .serde, to: &out)
            }
            out.append(UInt8(ascii: "}"))
            needsComma = true
        }
        var offset = 0
        for entry in ordered {
            if needsComma { out.append(UInt8(ascii: ",")) }
            needsComma = true
            JSONEncoding.appendString(entry.name, style: .serde, to: &out)
            out.append(contentsOf: Array(":{\"dtype\":".utf8))
            JSONEncoding.appendString(entry.dtype.name, style: .serde, to: &out)
            out.append(contentsOf: Array(",\"shape\":".utf8))
            JSONEncoding.appendIntegerArray(entry.shape, to: &out)
            out.append(contentsOf: Array(",\"data_offsets\":".utf8))
            JSONEncoding.appendIntegerArray([offset, offset + entry.byteCount], to: &out)
            out.append(UInt8(ascii: "}"))
            offset += entry.byteCount
        }
        out.append(UInt8(ascii: "}"))
        let padding = (8 - out.count % 8) % 8
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        return out
    }

    // MARK: Values

    private static func writeValues(of entry: Entry, to file: AtomicFileWriter) throws {
        switch entry.values {
        case .floats(let tensor):
            try tensor.withUnsafeBufferPointer { values in
                switch entry.dtype {
                case .f32:
                    #if _endian(little)
                    try file.append(UnsafeRawBufferPointer(values))
                    #else
                    try writeConverted(values.count, to: file) { values[$0].bitPattern }
                    #endif
                case .f16: try writeConverted(values.count, to: file) { HalfPrecision.float16Bits(values[$0]) }
                case .bf16: try writeConverted(values.count, to: file) { HalfPrecision.bfloat16Bits(values[$0]) }
                default: try writeConverted(values.count, to: file) { Double(values[$0]).bitPattern }
                }
            }
        case .integers(let integers):
            let values = integers.scalars
            let fit = { (index: Int, range: ClosedRange<Int>) throws -> Int in
                let value = values[index]
                guard range.contains(value) else {
                    throw CheckpointError(path: file.path, tensor: entry.name, "value \(value) at element \(index) does not fit in \(entry.dtype.name)")
                }
                return value
            }
            switch entry.dtype {
            case .i64: try writeConverted(values.count, to: file) { Int64(values[$0]) }
            case .i32: try writeConverted(values.count, to: file) { Int32(try fit($0, Int(Int32.min)...Int(Int32.max))) }
            case .i16: try writeConverted(values.count, to: file) { Int16(try fit($0, Int(Int16.min)...Int(Int16.max))) }
            case .i8: try writeConverted(values.count, to: file) { Int8(try fit($0, Int(Int8.min)...Int(Int8.max))) }
            case .u8: try writeConverted(values.count, to: file) { UInt8(try fit($0, 0...255)) }
            default: try writeConverted(values.count, to: file) { UInt8(try fit($0, 0...1)) }
            }
        }
    }

    /// Converts `count` elements through `element` in fixed-size chunks, so memory stays bounded
    /// however large the tensor is.
    private static func writeConverted<T: FixedWidthInteger>(
        _ count: Int, to file: AtomicFileWriter, _ element: (Int) throws -> T
    ) throws {
        let chunk = 1 << 16
        var scratch = [T](repeating: 0, count: min(chunk, count))
        var start = 0
        while start < count {
            let length = min(chunk, count - start)
            for offset in 0..<length { scratch[offset] = try element(start + offset).littleEndian }
            try scratch.withUnsafeBytes { bytes in
                try file.append(UnsafeRawBufferPointer(rebasing: bytes[0..<(length * MemoryLayout<T>.size)]))
            }
            start += length
        }
    }
}
