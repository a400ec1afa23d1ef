import Foundation
import XCTest
import LoomCheckpoint
import LoomTensor

/// Fixture helpers of the CLIP and Whisper tests (cases made by tools/fixtures/make_model_fixtures.py):
/// locating a case, its io.safetensors, the parity bar, and editable temporary copies of a folder.
enum CLIPWhisperFixtures {
    static func directory(_ name: String) -> String { ParityFixture.directory(name) }

    static func io(_ name: String) throws -> SafetensorsFile { try ParityFixture.io(name) }

    /// The parity bar of ParitySupport.swift.
    @discardableResult
    static func assertClose(_ actual: Tensor, _ expected: Tensor, _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) -> Float {
        assertParity(actual, expected, label, file: file, line: line)
    }

    /// Stacks equally shaped tensors along a new leading axis.
    static func stacked(_ tensors: [Tensor]) -> Tensor {
        concat(tensors.map { $0.unsqueezed(0) }, axis: 0)
    }

    /// A fresh temporary copy of a fixture folder (config.json and weights, not io.safetensors);
    /// removed when the test ends.
    static func temporaryCopy(of name: String, in test: XCTestCase) throws -> String {
        let target = FileManager.default.temporaryDirectory
            .appendingPathComponent("loom-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: target) }
        let source = directory(name)
        for file in try FileManager.default.contentsOfDirectory(atPath: source) where file != "io.safetensors" {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: target + "/" + file)
        }
        return target
    }

    /// Rewrites `folder/model.safetensors` through `edit`, each tensor keeping its stored dtype.
    static func editWeights(in folder: String,
                            _ edit: (inout [(name: String, tensor: Tensor, dtype: DType)]) -> Void) throws {
        let path = folder + "/model.safetensors"
        var entries: [(name: String, tensor: Tensor, dtype: DType)] = []
        do {
            let file = try SafetensorsFile(path: path)
            for name in file.names { entries.append((name, try file.tensor(name), file.info(name)!.dtype)) }
        }
        edit(&entries)
        try SafetensorsWriter.write(entries.map { ($0.name, $0.tensor, $0.dtype) }, metadata: ["format": "pt"], to: path)
    }

    /// The error a throwing call raised, or a failure when it returned.
    static func error<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> Error? {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }
}
