import XCTest
import LoomTensor
@testable import LoomCheckpoint

/// Reading files written by the Python safetensors library, compared exactly with torch's values.
final class SafetensorsReaderTests: TemporaryDirectoryTestCase {
    func testMixedFixtureMatchesTorchExactly() throws {
        let file = try SafetensorsFile(path: Fixtures.path("mixed.safetensors"))
        let expected = try Fixtures.json("mixed_expected.json")
        let tensors = try XCTUnwrap(expected["tensors"] as? [String: [String: Any]])

        XCTAssertEqual(file.names, tensors.keys.sorted())
        XCTAssertEqual(file.metadata, expected["metadata"] as? [String: String])
        for (name, entry) in tensors {
            let info = try XCTUnwrap(file.info(name), name)
            XCTAssertEqual(info.dtype.name, entry["dtype"] as? String, name)
            XCTAssertEqual(info.shape, entry["shape"] as? [Int], name)
            let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int], name)
            XCTAssertEqual(info.dataOffsets, offsets[0]..<offsets[1], name)

            let tensor = try file.tensor(name)
            XCTAssertEqual(tensor.shape, info.shape, name)
            XCTAssertEqual(tensor.scalars.map(\.bitPattern), (entry["f32_bits"] as? [Int])?.map(UInt32.init), name)
            if let ints = entry["ints"] as? [Int] {
                let integers = try file.intTensor(name)
                XCTAssertEqual(integers.shape, info.shape, name)
                XCTAssertEqual(integers.scalars, ints, name)
            }
        }
    }

    func testScalarAndEmptyTensors() throws {
        let file = try SafetensorsFile(path: Fixtures.path("mixed.safetensors"))
        let scalar = try file.tensor("f32_scalar")
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.item, 42.5)
        XCTAssertEqual(try file.intTensor("i64_scalar"), IntTensor(shape: [], scalars: [7]))
        let empty = try file.tensor("f32_empty")
        XCTAssertEqual(empty.shape, [2, 0])
        XCTAssertEqual(empty.count, 0)
        XCTAssertEqual(try file.rawBytes("bf16_empty").count, 0)
    }

    func testF16SubnormalsAndInfinities() throws {
        let values = try SafetensorsFile(path: Fixtures.path("mixed.safetensors")).tensor("f16_values").scalars
        XCTAssertEqual(values[0], 0x1p-24)
        XCTAssertEqual(values[1], 1023 * 0x1p-24)
        XCTAssertEqual(values[2], 0x1p-14)
        XCTAssertEqual(values[3], 65504)
        XCTAssertEqual(values[4], .infinity)
        XCTAssertEqual(values[5], -.infinity)
        XCTAssertEqual(values[6].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertTrue(values[8].isNaN)
    }

    func testRawBytesAreTheStoredBytes() throws {
        let file = try SafetensorsFile(path: Fixtures.path("mixed.safetensors"))
        let bytes = try file.withRawBytes("u8_values") { Array($0) }
        XCTAssertEqual(bytes, [0, 1, 200, 255])
        XCTAssertEqual(try file.rawBytes("bf16_values").count, 16)
    }

    func testFloatTypesAreNotIntegers() throws {
        let file = try SafetensorsFile(path: Fixtures.path("mixed.safetensors"))
        assertCheckpointError(try file.intTensor("f16_values"), contains: ["mixed.safetensors", "f16_values", "F16"])
        assertCheckpointError(try file.tensor("missing"), contains: ["mixed.safetensors", "missing"])
        XCTAssertNil(file.info("missing"))
    }

    func testEmptyHeaderAndEmptyBuffer() throws {
        let path = try writeFile("empty.safetensors", safetensorsBytes(header: "{}"))
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.names, [])
        XCTAssertEqual(file.metadata, [:])
    }

    func testOnlyZeroElementTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[3,0],"data_offsets":[0,0]}}"#
        let file = try SafetensorsFile(path: writeFile("zero.safetensors", safetensorsBytes(header: header)))
        XCTAssertEqual(try file.tensor("a").shape, [0])
        XCTAssertEqual(try file.intTensor("b"), IntTensor(shape: [3, 0], scalars: []))
    }

    func testLeadingAndTrailingWhitespaceInHeader() throws {
        let header = " \n\t{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   \r\n "
        let path = try writeFile("ws.safetensors", safetensorsBytes(header: header, data: float32Bytes([1, -2])))
        XCTAssertEqual(try SafetensorsFile(path: path).tensor("x").scalars, [1, -2])
    }

    func testUnalignedDataIsReadWithUnalignedLoads() throws {
        // A 3-byte-shorter header than usual leaves the buffer at an odd file offset; a U8 tensor
        // first makes the following F32 and I64 data unaligned inside the buffer as well.
        let header = #"{"p":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]},"i":{"dtype":"I64","shape":[1],"data_offsets":[9,17]}}"#
        var data: [UInt8] = [9] + float32Bytes([0.5, -7.25])
        data += (0..<8).map { UInt8(truncatingIfNeeded: Int64(-300) >> (8 * Int64($0))) }
        let file = try SafetensorsFile(path: writeFile("unaligned.safetensors", safetensorsBytes(header: header, data: data)))
        XCTAssertEqual(try file.tensor("f").scalars, [0.5, -7.25])
        XCTAssertEqual(try file.intTensor("i").scalars, [-300])
        XCTAssertEqual(try file.tensor("i").scalars, [-300])
    }

    func testTensorsOutliveTheFile() throws {
        var file: SafetensorsFile? = try SafetensorsFile(path: Fixtures.path("mixed.safetensors"))
        let tensor = try XCTUnwrap(file).tensor("f32_matrix")
        file = nil
        XCTAssertEqual(tensor.scalars[2], 1.5)
    }

    func testRankAboveTensorLimitThrows() throws {
        let header = #"{"deep":{"dtype":"F32","shape":[1,1,1,1,1,1],"data_offsets":[0,4]}}"#
        let file = try SafetensorsFile(path: writeFile("deep.safetensors", safetensorsBytes(header: header, data: float32Bytes([1]))))
        assertCheckpointError(try file.tensor("deep"), contains: ["deep.safetensors", "deep", "rank 6"])
        assertCheckpointError(try file.intTensor("deep"), contains: ["deep.safetensors", "not an integer type"])
    }

    func testZeroElementShapeWithHugeDimensionsThrowsInsteadOfTrapping() throws {
        // The reference's left fold is 0 here, but strides computed from the right overflow.
        let huge = Int.max / 2
        let header = "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,\(huge),\(huge)],\"data_offsets\":[0,0]}}"
        let file = try SafetensorsFile(path: writeFile("huge.safetensors", safetensorsBytes(header: header)))
        assertCheckpointError(try file.tensor("z"), contains: ["huge.safetensors", "z", "overflow"])
    }

    func testU64AboveIntMaxThrowsForIntegers() throws {
        let header = #"{"u":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}"#
        let file = try SafetensorsFile(path: writeFile("u64.safetensors", safetensorsBytes(header: header, data: [UInt8](repeating: 0xFF, count: 8))))
        assertCheckpointError(try file.intTensor("u"), contains: ["u64.safetensors", "'u'", "18446744073709551615"])
        XCTAssertEqual(try file.tensor("u").item, 0x1p64)
    }

    func testUnsupportedConversionNamesDType() throws {
        let header = #"{"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#
        let file = try SafetensorsFile(path: writeFile("f8.safetensors", safetensorsBytes(header: header, data: [1, 2])))
        XCTAssertEqual(file.info("q")?.dtype, .f8E4M3)
        XCTAssertEqual(try file.rawBytes("q").count, 2)
        assertCheckpointError(try file.tensor("q"), contains: ["f8.safetensors", "'q'", "F8_E4M3"])
    }

    func testSubByteDTypeSizes() throws {
        // Four F4 values pack into two bytes; an odd count of F4 values is a misaligned slice.
        let ok = #"{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}"#
        XCTAssertNoThrow(try SafetensorsFile(path: writeFile("f4.safetensors", safetensorsBytes(header: ok, data: [0, 0]))))
        let odd = #"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#
        let path = try writeFile("f4odd.safetensors", safetensorsBytes(header: odd, data: [0, 0]))
        assertCheckpointError(try SafetensorsFile(path: path), contains: ["f4odd.safetensors", "'a'", "12 bits"])
    }

    func testDTypeBitSizesAndOrder() {
        XCTAssertEqual(DType.allCases.count, 22)
        XCTAssertEqual(DType(rawValue: "F6_E2M3")?.bitSize, 6)
        XCTAssertEqual(DType.bf16.bitSize, 16)
        XCTAssertEqual(DType.c64.bitSize, 64)
        XCTAssertTrue(DType.f32 > DType.bf16 && DType.bf16 > DType.f16 && DType.u64 > DType.i64 && DType.f64 > DType.c64)
    }

    func testHalfPrecisionConversions() {
        XCTAssertEqual(HalfPrecision.bfloat16Bits(.nan), 0x7FC0)
        XCTAssertEqual(HalfPrecision.bfloat16Bits(-Float.nan), 0x7FC0)
        XCTAssertEqual(HalfPrecision.bfloat16Bits(1 + 0x1p-8), 0x3F80, "tie rounds to even (down)")
        XCTAssertEqual(HalfPrecision.bfloat16Bits(1 + 0x1p-7 + 0x1p-8), 0x3F82, "tie rounds to even (up)")
        XCTAssertEqual(HalfPrecision.bfloat16Bits(.greatestFiniteMagnitude), 0x7F80)
        XCTAssertEqual(HalfPrecision.bfloat16Bits(-.infinity), 0xFF80)
        XCTAssertEqual(HalfPrecision.float(bfloat16Bits: 0x0001), Float(bitPattern: 0x0001_0000))
        XCTAssertEqual(HalfPrecision.float16Bits(65520), 0x7C00)
        XCTAssertEqual(HalfPrecision.float16Bits(0x1p-25), 0x0000)
        XCTAssertEqual(HalfPrecision.float(float16Bits: 0x0001), 0x1p-24)
        XCTAssertEqual(HalfPrecision.float(float16Bits: 0x7C01).bitPattern, 0x7F80_2000, "signaling NaN payload kept")
        for bits in UInt16.min...UInt16.max {
            let ours = HalfPrecision.float(float16Bits: bits)
            let swift = Float(Float16(bitPattern: bits))
            if swift.isNaN {
                XCTAssertTrue(ours.isNaN)
            } else if ours.bitPattern != swift.bitPattern {
                XCTFail("F16 bits 0x\(String(bits, radix: 16)): \(ours) != \(swift)")
            }
        }
    }
}
