import Foundation
import XCTest
import LoomCheckpoint
import LoomTensor

/// Fixture helpers of the CLIP and Whisper tests (cases made by tools/fixtures/make_model_fixtures.py):
/// locating a case, its io.safetensors, the parity bar, and editable temporary copies of a folder.
enum CLIPWhisperFixtures {
    static func directory(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
    }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: directory(name) + "/io.safetensors")
    }

    /// Asserts max |actual − expected| ≤ 2e-4 · max(1, max |expected|) and returns the max |diff|.
    @discardableResult
    static func assertClose(_ actual: Tensor, _ expected: Tensor, _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(actual.shape, expected.shape, "\(label): shape", file: file, line: line)
        guard actual.shape == expected.shape else { return .infinity }
        let a = actual.scalars, e = expected.scalars
        var maxDiff: Float = 0, maxExpected: Float = 0
        for i in 0..<a.count {
            let diff = abs(a[i] - e[i])
            maxDiff = max(maxDiff, diff.isNaN ? .infinity : diff)
            maxExpected = max(maxExpected, abs(e[i]))
        }
        let bound = 2e-4 * max(1, maxExpected)
        XCTAssertLessThanOrEqual(maxDiff, bound, "\(label): max |diff| \(maxDiff) (max |expected| \(maxExpected))",
                                 file: file, line: line)
        print("parity \(label): max |diff| = \(maxDiff), max |expected| = \(maxExpected)")
        return maxDiff
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
