import XCTest
import LoomTensor
@testable import LoomCheckpoint

/// Every validation rule of SPECS §1.3: each corrupt file throws, naming the file, and the tensor
/// and numbers where they apply. The files are built here so each test shows its exact bytes.
final class MalformedFileTests: TemporaryDirectoryTestCase {
    private let x8 = #""x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    /// Writes a file with `header` and `data`, and asserts that opening it fails with `fragments`.
    private func assertRejected(_ name: String, header: String, data: [UInt8] = [], declaredLength: UInt64? = nil,
                                contains fragments: [String], line: UInt = #line) throws {
        let path = try writeFile(name, safetensorsBytes(header: header, data: data, declaredLength: declaredLength))
        assertCheckpointError(try SafetensorsFile(path: path), contains: [name] + fragments, line: line)
    }

    // MARK: Sizes (rules 1–3)

    func testFileShorterThanEightBytes() throws {
        let path = try writeFile("short.safetensors", [1, 0, 0, 0, 0])
        assertCheckpointError(try SafetensorsFile(path: path), contains: ["short.safetensors", "5 bytes"])
        let empty = try writeFile("empty.safetensors", [])
        assertCheckpointError(try SafetensorsFile(path: empty), contains: ["empty.safetensors", "0 bytes"])
    }

    func testTruncatedFile() throws {
        let full = safetensorsBytes(header: "{\(x8)}", data: float32Bytes([1, 2]))
        let path = try writeFile("truncated.safetensors", Array(full.prefix(full.count - 3)))
        assertCheckpointError(try SafetensorsFile(path: path), contains: ["truncated.safetensors", "short"])
    }

    func testHeaderLengthAboveLimit() throws {
        try assertRejected("huge.safetensors", header: "{}", declaredLength: 100_000_001, contains: ["100000001", "100000000"])
        try assertRejected("max.safetensors", header: "{}", declaredLength: UInt64.max, contains: ["18446744073709551615"])
    }

    func testHeaderLengthPastEndOfFile() throws {
        try assertRejected("past.safetensors", header: "{}", declaredLength: 50, contains: ["header length 50", "10 bytes"])
    }

    // MARK: Header text (rule 4)

    func testHeaderNotUTF8() throws {
        let path = try writeFile("latin1.safetensors", safetensorsBytes(headerBytes: [0x7B, 0x22, 0xE9, 0x22, 0x7D]))
        assertCheckpointError(try SafetensorsFile(path: path), contains: ["latin1.safetensors", "UTF-8"])
    }

    func testInvalidJSON() throws {
        try assertRejected("invalid.safetensors", header: "{\"x\":", contains: ["not valid JSON"])
        try assertRejected("garbage.safetensors", header: "{} x", contains: ["not valid JSON", "after the JSON value"])
        try assertRejected("comma.safetensors", header: "{\(x8),}", data: float32Bytes([1, 2]), contains: ["not valid JSON"])
        try assertRejected("surrogate.safetensors", header: #"{"\ud800":{}}"#, contains: ["surrogate"])
    }

    func testDeeplyNestedJSONIsRejectedWithoutExhaustingTheStack() throws {
        let header = String(repeating: "[", count: 200_000)
        try assertRejected("deep.safetensors", header: header, contains: ["nesting deeper than 128"])
    }

    func testTopLevelNotAnObject() throws {
        try assertRejected("array.safetensors", header: "[]", contains: ["must be a JSON object", "an array"])
    }

    func testEntryNotAnObject() throws {
        try assertRejected("entry.safetensors", header: #"{"w":[1,2]}"#, contains: ["'w'", "must be an object"])
    }

    func testMissingField() throws {
        try assertRejected("missing.safetensors", header: #"{"w":{"dtype":"F32","shape":[]}}"#,
                           contains: ["'w'", "data_offsets"])
    }

    func testUnknownDType() throws {
        try assertRejected("dtype.safetensors", header: #"{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,2]}}"#,
                           data: [0, 0], contains: ["'w'", "unknown dtype", "F12"])
        try assertRejected("dtypenum.safetensors", header: #"{"w":{"dtype":3,"shape":[1],"data_offsets":[0,2]}}"#,
                           data: [0, 0], contains: ["'w'", "dtype"])
    }

    func testNegativeOrFractionalShape() throws {
        try assertRejected("negative.safetensors", header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#,
                           contains: ["'w'", "shape", "-1"])
        try assertRejected("fraction.safetensors", header: #"{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#,
                           data: [0, 0, 0, 0], contains: ["'w'", "shape", "1.0"])
    }

    func testDataOffsetsNotAPair() throws {
        try assertRejected("offsets.safetensors", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
                           data: [0, 0, 0, 0], contains: ["'w'", "[begin, end]", "3 values"])
    }

    func testDuplicateTensorKeys() throws {
        try assertRejected("dup.safetensors", header: "{\(x8),\(x8)}", data: float32Bytes([1, 2]),
                           contains: ["duplicate key", "\"x\""])
    }

    func testDuplicateMetadataKeys() throws {
        try assertRejected("dupmeta.safetensors", header: #"{"__metadata__":{"a":"1","a":"2"}}"#,
                           contains: ["duplicate key", "\"a\""])
    }

    func testMetadataValueNotAString() throws {
        try assertRejected("meta.safetensors", header: #"{"__metadata__":{"total":5}}"#,
                           contains: ["__metadata__", "\"total\"", "must be a string"])
        try assertRejected("metaarray.safetensors", header: #"{"__metadata__":["a"]}"#,
                           contains: ["__metadata__", "an array"])
    }

    // MARK: Layout (rules 5–6)

    func testGapBetweenTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        try assertRejected("gap.safetensors", header: header, data: float32Bytes([1, 2, 3]),
                           contains: ["'b'", "[8, 12]", "begin at 4", "gap"])
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try assertRejected("overlap.safetensors", header: header, data: float32Bytes([1, 2]),
                           contains: ["'b'", "[4, 8]", "overlaps"])
    }

    func testFirstOffsetNotZero() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try assertRejected("first.safetensors", header: header, data: float32Bytes([1, 2]),
                           contains: ["'a'", "[4, 8]", "begin at 0"])
    }

    func testEndBeforeBegin() throws {
        let header = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"U8","shape":[0],"data_offsets":[4,2]}}"#
        try assertRejected("reversed.safetensors", header: header, data: float32Bytes([1]),
                           contains: ["'c'", "[4, 2]", "ends before it begins"])
    }

    func testByteCountMismatch() throws {
        let header = #"{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}}"#
        try assertRejected("size.safetensors", header: header, data: [UInt8](repeating: 0, count: 8),
                           contains: ["'w'", "8 bytes", "[2, 3]", "BF16", "needs 12"])
    }

    func testTrailingBytes() throws {
        try assertRejected("trailing.safetensors", header: "{\(x8)}", data: float32Bytes([1, 2]) + [0xAB],
                           contains: ["1 trailing bytes", "describes 8"])
        try assertRejected("trailingempty.safetensors", header: "{}", data: [0], contains: ["1 trailing bytes"])
    }

    func testElementCountOverflow() throws {
        let huge = Int.max / 2
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(huge),\(huge),0],\"data_offsets\":[0,0]}}"
        try assertRejected("overflow.safetensors", header: header, contains: ["'w'", "overflows"])
        let bits = "{\"w\":{\"dtype\":\"F64\",\"shape\":[\(huge)],\"data_offsets\":[0,0]}}"
        try assertRejected("bits.safetensors", header: bits, contains: ["'w'", "overflows"])
        let offset = #"{"w":{"dtype":"U8","shape":[0],"data_offsets":[0,99999999999999999999]}}"#
        try assertRejected("bigoffset.safetensors", header: offset, contains: ["'w'", "data_offsets"])
    }

    func testNotARegularFile() throws {
        assertCheckpointError(try SafetensorsFile(path: temporaryDirectory), contains: [temporaryDirectory, "not a regular file"])
        let missing = temporaryPath("absent.safetensors")
        assertCheckpointError(try SafetensorsFile(path: missing), contains: ["absent.safetensors", "cannot open"])
    }

    // MARK: Robustness

    /// Every prefix and many random corruptions of a valid file are either rejected or yield a
    /// layout whose every tensor lies inside the buffer (the invariant that makes reads safe). The
    /// header is checked in memory for speed; a sample also goes through files and full reads.
    func testTruncationsAndCorruptionsNeverCrash() throws {
        let original = try readBytes(Fixtures.path("mixed.safetensors"))
        var generator = SplitMix(seed: 42)
        var candidates: [[UInt8]] = (0..<original.count).map { Array(original.prefix($0)) }
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                // Bias corruption toward the length field and header, where parsing decisions live.
                let limit = generator.next() % 2 == 0 ? min(bytes.count, 600) : bytes.count
                let position = Int(generator.next() % UInt64(limit))
                bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            }
            candidates.append(bytes)
        }
        var accepted = 0
        for bytes in candidates {
            let header = bytes.withUnsafeBytes { try? SafetensorsHeader(bytes: $0, path: "fuzz") }
            guard let header else { continue }
            accepted += 1
            for info in header.tensors {
                XCTAssertLessThanOrEqual(header.dataStart + info.dataOffsets.upperBound, bytes.count)
                XCTAssertEqual(info.byteCount * 8, info.elementCount * info.dtype.bitSize)
            }
        }
        XCTAssertGreaterThan(accepted, 1, "the corruptions that only change data bytes should still open")

        for (index, bytes) in candidates.enumerated() where index % 17 == 0 {
            let path = try writeFile("fuzz.safetensors", bytes)
            guard let file = try? SafetensorsFile(path: path) else { continue }
            for name in file.names {
                _ = try? file.tensor(name)
                _ = try? file.intTensor(name)
            }
        }
    }
}

/// A small deterministic generator so the corruption test is reproducible.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
