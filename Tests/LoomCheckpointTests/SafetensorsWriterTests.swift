import XCTest
import LoomTensor
@testable import LoomCheckpoint

final class SafetensorsWriterTests: TemporaryDirectoryTestCase {
    /// The Swift writer reproduces, byte for byte, a file the Python library wrote from the same
    /// F32 data cast by torch to BF16 and F16 (ties, overflow to inf, subnormals, non-ASCII and
    /// escaped names, a scalar, an empty tensor, I64 and BOOL).
    func testOutputIsByteIdenticalToPythonWriter() throws {
        let source = try SafetensorsFile(path: Fixtures.path("writer_source.safetensors"))
        let reference = try SafetensorsFile(path: Fixtures.path("writer_reference.safetensors"))
        XCTAssertEqual(source.names, reference.names)
        let entries: [SafetensorsWriter.Entry] = try source.names.map { name in
            let dtype = try XCTUnwrap(reference.info(name)?.dtype)
            return dtype.isInteger ? .init(name, try source.intTensor(name), as: dtype)
                : .init(name, try source.tensor(name), as: dtype)
        }
        let path = temporaryPath("swift.safetensors")
        try SafetensorsWriter.write(entries.reversed(), metadata: reference.metadata, to: path)
        XCTAssertEqual(try readBytes(path), try readBytes(Fixtures.path("writer_reference.safetensors")))
    }

    func testRoundTripF32IsExact() throws {
        let values: [Float] = [0, -0.0, 1, -1.5, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1 / 3]
        let matrix = Tensor(shape: [3, 3], scalars: values)
        let path = temporaryPath("f32.safetensors")
        try SafetensorsWriter.write(["m": matrix, "s": Tensor(scalar: 2.5)], to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.names, ["m", "s"])
        XCTAssertEqual(try file.tensor("m").scalars.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(try file.tensor("s").shape, [])
        XCTAssertEqual(file.metadata, [:])
    }

    func testRoundTripHalfTypesRoundToNearestEven() throws {
        let values: [Float] = [1 + 0x1p-8, 1 + 0x1p-7 + 0x1p-8, 65520, 0x1p-25, 3 * 0x1p-26, -2.75, .nan, 0.1]
        let tensor = Tensor(shape: [2, 4], scalars: values)
        let path = temporaryPath("half.safetensors")
        try SafetensorsWriter.write([("b", tensor, .bf16), ("h", tensor, .f16), ("d", tensor, .f64)], to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.info("b")?.dtype, .bf16)
        XCTAssertEqual(file.info("h")?.byteCount, 16)
        let bf16 = try file.tensor("b").scalars
        let f16 = try file.tensor("h").scalars
        for (index, value) in values.enumerated() {
            XCTAssertEqual(bf16[index].bitPattern, HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits(value)).bitPattern)
            XCTAssertEqual(f16[index].bitPattern, Float(Float16(value)).bitPattern)
        }
        XCTAssertEqual(bf16[0], 1)
        XCTAssertEqual(bf16[1], 1 + 0x1p-6)
        XCTAssertEqual(f16[2], .infinity)
        XCTAssertEqual(f16[3], 0)
        XCTAssertEqual(f16[4], 0x1p-24)
        XCTAssertEqual(try file.rawBytes("b").suffix(4).map { $0 }, [0xC0, 0x7F, 0xCD, 0x3D], "NaN → 0x7FC0; 0.1 → 0x3DCD")
        XCTAssertEqual(try file.tensor("d").scalars.dropLast(2).map(\.bitPattern), values.dropLast(2).map(\.bitPattern))
    }

    func testIntegerRoundTrip() throws {
        let path = temporaryPath("ints.safetensors")
        let values = IntTensor(shape: [2, 2], scalars: [-3, 0, 1 << 40, 5])
        try SafetensorsWriter.write([
            .init("i64", values),
            .init("i32", IntTensor([-7, 2_000_000_000]), as: .i32),
            .init("i8", IntTensor([-128, 127]), as: .i8),
            .init("u8", IntTensor([0, 255]), as: .u8),
            .init("flag", IntTensor(shape: [], scalars: [1]), as: .bool),
        ], to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(try file.intTensor("i64"), values)
        XCTAssertEqual(try file.intTensor("i32").scalars, [-7, 2_000_000_000])
        XCTAssertEqual(try file.intTensor("i8").scalars, [-128, 127])
        XCTAssertEqual(try file.intTensor("u8").scalars, [0, 255])
        XCTAssertEqual(try file.intTensor("flag"), IntTensor(shape: [], scalars: [1]))
    }

    func testHeaderLayoutMatchesReference() throws {
        let path = temporaryPath("layout.safetensors")
        try SafetensorsWriter.write([
            .init("b", Tensor(shape: [1], scalars: [1]), as: .f16),
            .init("a", Tensor(shape: [1], scalars: [1]), as: .f16),
            .init("z", Tensor(shape: [2], scalars: [1, 2])),
        ], metadata: ["k2": "v", "k1": "line\nbreak \"q\""], to: path)
        let bytes = try readBytes(path)
        let length = Int(bytes[0])
        let header = String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
        let expected = #"{"__metadata__":{"k1":"line\nbreak \"q\"","k2":"v"},"z":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},"b":{"dtype":"F16","shape":[1],"data_offsets":[10,12]}}"#
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces), expected)
        XCTAssertEqual(length % 8, 0)
        XCTAssertEqual(bytes.count, 8 + length + 12)
        XCTAssertEqual(try SafetensorsFile(path: path).metadata, ["k2": "v", "k1": "line\nbreak \"q\""])
    }

    func testNonContiguousTensorIsWrittenInRowMajorOrder() throws {
        let base = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let transposed = Tensor(storage: base.storage, shape: [3, 2], strides: [1, 3])
        let path = temporaryPath("t.safetensors")
        try SafetensorsWriter.write(["t": transposed], to: path)
        XCTAssertEqual(try SafetensorsFile(path: path).tensor("t").scalars, [1, 4, 2, 5, 3, 6])
    }

    func testInvalidEntriesThrowAndLeaveNoFiles() throws {
        let path = temporaryPath("bad.safetensors")
        let one = Tensor(shape: [1], scalars: [1])
        assertCheckpointError(try SafetensorsWriter.write([.init("w", one), .init("w", one)], to: path),
                              contains: ["bad.safetensors", "'w'", "twice"])
        assertCheckpointError(try SafetensorsWriter.write([.init("__metadata__", one)], to: path),
                              contains: ["reserved"])
        assertCheckpointError(try SafetensorsWriter.write([.init("w", one, as: .i32)], to: path),
                              contains: ["'w'", "I32"])
        assertCheckpointError(try SafetensorsWriter.write([.init("n", IntTensor([1]), as: .bf16)], to: path),
                              contains: ["'n'", "BF16"])
        assertCheckpointError(try SafetensorsWriter.write([.init("n", IntTensor([0, 300]), as: .u8)], to: path),
                              contains: ["'n'", "300", "element 1", "U8"])
        assertCheckpointError(try SafetensorsWriter.write(["w": one], to: temporaryPath("no/such/dir/x.safetensors")),
                              contains: ["x.safetensors", "temporary file"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporaryDirectory), [])
    }

    func testOverwriteReplacesAtomically() throws {
        let path = temporaryPath("model.safetensors")
        try SafetensorsWriter.write(["a": Tensor(shape: [1], scalars: [1])], to: path)
        let reader = try SafetensorsFile(path: path)
        try SafetensorsWriter.write(["b": Tensor(shape: [2], scalars: [2, 3])], to: path)
        // The old mapping stays valid after the rename; the new file is complete.
        XCTAssertEqual(try reader.tensor("a").scalars, [1])
        XCTAssertEqual(try SafetensorsFile(path: path).names, ["b"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporaryDirectory), ["model.safetensors"])
    }

    func testEmptyFile() throws {
        let path = temporaryPath("empty.safetensors")
        try SafetensorsWriter.write([SafetensorsWriter.Entry](), to: path)
        XCTAssertEqual(try readBytes(path), safetensorsBytes(header: "{}      "))
        XCTAssertEqual(try SafetensorsFile(path: path).names, [])
    }
}
