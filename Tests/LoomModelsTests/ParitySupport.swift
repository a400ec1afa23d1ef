import Foundation
import XCTest
import LoomCheckpoint
import LoomTensor

/// The fixtures made by tools/fixtures/make_model_fixtures.py: one Hugging Face folder per case,
/// with io.safetensors (inputs and transformers' outputs) and, for language models, generate.json.
enum ParityFixture {
    static func directory(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
    }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: directory(name) + "/io.safetensors")
    }

    struct Generate: Decodable {
        var prompt: [[Int]]
        var new_tokens: [[Int]]
    }

    static func generate(_ name: String) throws -> Generate {
        try JSONDecoder().decode(Generate.self, from: Data(contentsOf: URL(fileURLWithPath: directory(name) + "/generate.json")))
    }
}

/// The parity bar: max |actual − expected| ≤ 2e-4 · max(1, max |expected|). Returns the max |diff|.
@discardableResult
func assertParity(_ actual: Tensor, _ expected: Tensor, _ label: String,
                  file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(actual.shape, expected.shape, "\(label): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return .infinity }
    let a = actual.scalars, e = expected.scalars
    var maxDiff: Float = 0, maxExpected: Float = 0
    for i in 0..<a.count {
        maxDiff = max(maxDiff, abs(a[i] - e[i]).isNaN ? .infinity : abs(a[i] - e[i]))
        maxExpected = max(maxExpected, abs(e[i]))
    }
    let bound = 2e-4 * max(1, maxExpected)
    XCTAssertLessThanOrEqual(maxDiff, bound, "\(label): max |diff| \(maxDiff) (max |expected| \(maxExpected))", file: file, line: line)
    print("parity \(label): max |diff| = \(maxDiff), max |expected| = \(maxExpected)")
    return maxDiff
}
