import LoomTensor

/// The decoded and validated header of a safetensors file (SPECS §1.2–1.3).
struct SafetensorsHeader {
    static let maxHeaderLength = 100_000_000

    /// Tensors in data order (sorted by offsets).
    let tensors: [TensorInfo]
    let metadata: [String: String]
    /// File offset where the data buffer starts (8 + header length).
    let dataStart: Int

    /// Reads and validates the header of `file`, whose full contents are `bytes`. Checks run in the
    /// reference reader's order so the first reported problem is the one it would report.
    init(bytes: UnsafeRawBufferPointer, path: String) throws {
        guard bytes.count >= 8 else {
            throw CheckpointError(path: path, "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(SafetensorsHeader.maxHeaderLength) else {
            throw CheckpointError(path: path, "header length \(declared) exceeds the limit of \(SafetensorsHeader.maxHeaderLength) bytes")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= bytes.count else {
            throw CheckpointError(path: path, "header length \(headerLength) runs past the end of the file (\(bytes.count) bytes, header would end at \(8 + headerLength))")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw CheckpointError(path: path, "header is not valid UTF-8")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(headerBytes)
        } catch let error as JSONSyntaxError {
            throw CheckpointError(path: path, "header is not valid JSON: \(error.message) at header byte \(error.offset)")
        }
        let (tensors, metadata) = try SafetensorsHeader.decodeSchema(json, path: path)
        self.metadata = metadata
        self.dataStart = 8 + headerLength
        self.tensors = try SafetensorsHeader.validateLayout(tensors, bufferLength: bytes.count - dataStart, path: path)
    }

    // MARK: Schema

    /// A tensor entry before layout validation.
    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    private static func decodeSchema(_ json: JSONValue, path: String) throws -> ([Entry], [String: String]) {
        guard case .object(let members) = json else {
            throw CheckpointError(path: path, "header must be a JSON object, found \(json.kindName)")
        }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (key, value) in members {
            if key == "__metadata__" {
                metadata = try decodeMetadata(value, path: path)
            } else {
                entries.append(try decodeEntry(name: key, value, path: path))
            }
        }
        return (entries, metadata)
    }

    private static func decodeMetadata(_ value: JSONValue, path: String) throws -> [String: String] {
        switch value {
        case .null:
            return [:]  // serde reads a null Option as "no metadata"
        case .object(let members):
            var metadata: [String: String] = [:]
            for (key, item) in members {
                guard case .string(let text) = item else {
                    throw CheckpointError(path: path, "__metadata__ value for \"\(key)\" must be a string, found \(item.kindName)")
                }
                metadata[key] = text
            }
            return metadata
        default:
            throw CheckpointError(path: path, "__metadata__ must be an object of strings, found \(value.kindName)")
        }
    }

    private static func decodeEntry(name: String, _ value: JSONValue, path: String) throws -> Entry {
        guard case .object(let fields) = value else {
            throw CheckpointError(path: path, tensor: name, "entry must be an object, found \(value.kindName)")
        }
        // Unknown fields are ignored, as the reference (serde without deny_unknown_fields) does.
        func field(_ key: String) throws -> JSONValue {
            guard let found = fields.first(where: { $0.key == key }) else {
                throw CheckpointError(path: path, tensor: name, "missing field \"\(key)\"")
            }
            return found.value
        }
        guard case .string(let dtypeName) = try field("dtype") else {
            throw CheckpointError(path: path, tensor: name, "\"dtype\" must be a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw CheckpointError(path: path, tensor: name, "unknown dtype \"\(dtypeName)\"")
        }
        let shape = try integers(try field("shape"), field: "shape", tensor: name, path: path)
        let offsets = try integers(try field("data_offsets"), field: "data_offsets", tensor: name, path: path)
        guard offsets.count == 2 else {
            throw CheckpointError(path: path, tensor: name, "\"data_offsets\" must be [begin, end], found \(offsets.count) values")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// An array of non-negative integers that fit in `Int`.
    private static func integers(_ value: JSONValue, field: String, tensor: String, path: String) throws -> [Int] {
        guard case .array(let elements) = value else {
            throw CheckpointError(path: path, tensor: tensor, "\"\(field)\" must be an array of non-negative integers, found \(value.kindName)")
        }
        return try elements.map { element in
            guard let integer = element.integer, integer >= 0 else {
                throw CheckpointError(path: path, tensor: tensor, "\"\(field)\" must hold non-negative integers, found \(element.kindName)")
            }
            return integer
        }
    }

    // MARK: Layout

    /// Rule 5–6 of SPECS §1.3: contiguous, gap-free offsets from 0, sizes matching shape × dtype,
    /// and a buffer that ends exactly where the last tensor does.
    private static func validateLayout(_ entries: [Entry], bufferLength: Int, path: String) throws -> [TensorInfo] {
        let sorted = entries.sorted { lhs, rhs in
            if lhs.begin != rhs.begin { return lhs.begin < rhs.begin }
            if lhs.end != rhs.end { return lhs.end < rhs.end }
            return utf8Precedes(lhs.name, rhs.name)
        }
        var infos: [TensorInfo] = []
        infos.reserveCapacity(sorted.count)
        var start = 0
        for entry in sorted {
            guard entry.begin == start, entry.end >= entry.begin else {
                let problem = entry.begin > start ? "leaves a gap after byte \(start)"
                    : entry.end < entry.begin ? "ends before it begins"
                    : "overlaps the previous tensor, which ends at byte \(start)"
                throw CheckpointError(path: path, tensor: entry.name,
                                      "invalid data_offsets [\(entry.begin), \(entry.end)]: expected to begin at \(start); \(problem)")
            }
            start = entry.end
            guard let elements = checkedProduct(entry.shape) else {
                throw CheckpointError(path: path, tensor: entry.name, "element count of shape \(describe(entry.shape)) overflows")
            }
            let (bits, overflow) = elements.multipliedReportingOverflow(by: entry.dtype.bitSize)
            guard !overflow else {
                throw CheckpointError(path: path, tensor: entry.name, "bit count of \(elements) \(entry.dtype.name) elements overflows")
            }
            guard bits % 8 == 0 else {
                throw CheckpointError(path: path, tensor: entry.name, "\(elements) \(entry.dtype.name) elements fill \(bits) bits, not a whole number of bytes")
            }
            guard entry.end - entry.begin == bits / 8 else {
                throw CheckpointError(path: path, tensor: entry.name,
                                      "data_offsets [\(entry.begin), \(entry.end)] hold \(entry.end - entry.begin) bytes, but shape \(describe(entry.shape)) of \(entry.dtype.name) needs \(bits / 8)")
            }
            infos.append(TensorInfo(name: entry.name, dtype: entry.dtype, shape: entry.shape,
                                    dataOffsets: entry.begin..<entry.end, elementCount: elements))
        }
        guard start == bufferLength else {
            let problem = bufferLength > start ? "\(bufferLength - start) trailing bytes after the last tensor"
                : "the file is \(start - bufferLength) bytes short"
            throw CheckpointError(path: path, "data buffer is \(bufferLength) bytes but the header describes \(start): \(problem)")
        }
        return infos
    }
}
