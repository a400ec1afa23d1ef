import XCTest
import LoomTensor
@testable import LoomCheckpoint

final class ShardedSafetensorsTests: TemporaryDirectoryTestCase {
    private var expected: [String: Any] = [:]

    override func setUpWithError() throws {
        try super.setUpWithError()
        expected = try Fixtures.json("sharded_expected.json")
    }

    func testReadsPythonShardedFolder() throws {
        let folder = try ShardedSafetensors(directory: Fixtures.path("sharded"))
        let shards = try XCTUnwrap(expected["shards"] as? [String: String])
        let bits = try XCTUnwrap(expected["f32_bits"] as? [String: [Int]])
        let shapes = try XCTUnwrap(expected["shapes"] as? [String: [Int]])
        XCTAssertEqual(folder.names, shards.keys.sorted())
        XCTAssertEqual(folder.files.count, 3)
        XCTAssertEqual(folder.totalSize, expected["total_size"] as? Int)
        for (name, shard) in shards {
            XCTAssertEqual(folder.file(containing: name)?.path.hasSuffix("/" + shard), true, name)
            XCTAssertEqual(folder.info(name)?.shape, shapes[name], name)
            XCTAssertEqual(try folder.tensor(name).scalars.map(\.bitPattern), bits[name]?.map(UInt32.init), name)
        }
        XCTAssertEqual(folder.files.first?.metadata, ["format": "pt"])
        assertCheckpointError(try folder.tensor("nope"), contains: ["sharded", "'nope'"])
    }

    /// Same tensors, same order, same limit: shards and index identical to huggingface_hub's
    /// split + safetensors + transformers' index text.
    func testWriterMatchesPythonShardsByteForByte() throws {
        let source = try ShardedSafetensors(directory: Fixtures.path("sharded"))
        let order = try XCTUnwrap(expected["order"] as? [String])
        let dtypes = try XCTUnwrap(expected["dtypes"] as? [String: String])
        let entries = try order.map { name in
            SafetensorsWriter.Entry(name, try source.tensor(name), as: try XCTUnwrap(DType(rawValue: dtypes[name] ?? "")))
        }
        let maxShardSize = try XCTUnwrap(expected["max_shard_size"] as? Int)
        let output = temporaryPath("out")
        let written = try ShardedSafetensorsWriter.write(entries, maxShardSize: maxShardSize, to: output)
        let reference = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("sharded")).sorted()
        XCTAssertEqual(written.sorted(), reference)
        for name in reference {
            XCTAssertEqual(try readBytes("\(output)/\(name)"), try readBytes(Fixtures.path("sharded/\(name)")), name)
        }
    }

    func testSingleFileFolderAndStaleShardsRemoved() throws {
        let output = temporaryPath("ckpt")
        let small = Tensor(shape: [2], scalars: [1, 2])
        try ShardedSafetensorsWriter.write([.init("a", small), .init("b", small), .init("c", small)], maxShardSize: 8, to: output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output).sorted(), [
            "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors", "model.safetensors.index.json",
        ])
        try "keep".write(toFile: "\(output)/config.json", atomically: true, encoding: .utf8)
        let written = try ShardedSafetensorsWriter.write([.init("a", small, as: .bf16)], maxShardSize: 1 << 20, to: output)
        XCTAssertEqual(written, ["model.safetensors"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output).sorted(), ["config.json", "model.safetensors"])
        let folder = try ShardedSafetensors(directory: output)
        XCTAssertEqual(folder.names, ["a"])
        XCTAssertEqual(folder.indexMetadata, [:])
        XCTAssertEqual(folder.files.first?.metadata, ["format": "pt"])
        XCTAssertEqual(try folder.tensor("a").scalars, [1, 2])
    }

    func testMissingShardIsNamed() throws {
        let folder = try copyFixtureFolder()
        try FileManager.default.removeItem(atPath: "\(folder)/model-00002-of-00003.safetensors")
        assertCheckpointError(try ShardedSafetensors(directory: folder),
                              contains: ["model.safetensors.index.json", "model-00002-of-00003.safetensors", "missing", "lm_head.weight"])
    }

    func testTensorAbsentFromItsShardIsNamed() throws {
        let folder = try copyFixtureFolder()
        try SafetensorsWriter.write(["other": Tensor(shape: [1], scalars: [0])],
                                    to: "\(folder)/model-00002-of-00003.safetensors")
        assertCheckpointError(try ShardedSafetensors(directory: folder),
                              contains: ["model-00002-of-00003.safetensors", "'lm_head.weight'", "absent"])
    }

    func testCorruptShardIsNamed() throws {
        let folder = try copyFixtureFolder()
        try writeFile("sharded/model-00003-of-00003.safetensors", [1, 2, 3])
        assertCheckpointError(try ShardedSafetensors(directory: folder),
                              contains: ["model-00003-of-00003.safetensors", "3 bytes"])
    }

    func testBadIndexes() throws {
        let folder = try copyFixtureFolder()
        let index = "\(folder)/model.safetensors.index.json"
        let cases: [(String, [String])] = [
            (#"{"weight_map": {"a": "../model.safetensors"}}"#, ["'a'", "plain file name"]),
            (#"{"weight_map": {"a": 3}}"#, ["'a'", "file name string"]),
            (#"{"metadata": {}}"#, ["no \"weight_map\""]),
            (#"{"weight_map": {"a": "x", "a": "y"}}"#, ["duplicate key \"a\""]),
            ("[", ["not valid JSON"]),
        ]
        for (text, fragments) in cases {
            try text.write(toFile: index, atomically: true, encoding: .utf8)
            assertCheckpointError(try ShardedSafetensors(directory: folder), contains: ["model.safetensors.index.json"] + fragments)
        }
    }

    func testEmptyFolderIsAnError() throws {
        assertCheckpointError(try ShardedSafetensors(directory: temporaryDirectory),
                              contains: [temporaryDirectory, "model.safetensors", "index"])
    }

    func testShardNamesAndSplit() {
        XCTAssertEqual(ShardedSafetensorsWriter.shardFileName(1, of: 3), "model-00001-of-00003.safetensors")
        XCTAssertEqual(ShardedSafetensorsWriter.shardFileName(12, of: 123), "model-00012-of-00123.safetensors")
        XCTAssertTrue(ShardedSafetensorsWriter.isWeightFileName("model-00012-of-00123.safetensors"))
        XCTAssertFalse(ShardedSafetensorsWriter.isWeightFileName("model-0012-of-00123.safetensors"))
        XCTAssertFalse(ShardedSafetensorsWriter.isWeightFileName("adapter.safetensors"))
        let t = { (count: Int) in SafetensorsWriter.Entry("\(count)", Tensor(zeros: [count])) }
        let split = ShardedSafetensorsWriter.shardedInOrder([t(2), t(2), t(9), t(1), t(3)], maxShardSize: 16)
        // As huggingface_hub does it: an oversized tensor is emitted at once, ahead of the open shard.
        XCTAssertEqual(split.map { $0.map(\.name) }, [["9"], ["2", "2"], ["1", "3"]])
    }

    private func copyFixtureFolder() throws -> String {
        let folder = temporaryPath("sharded")
        try FileManager.default.copyItem(atPath: Fixtures.path("sharded"), toPath: folder)
        return folder
    }
}
