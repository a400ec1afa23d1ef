import Foundation
import XCTest
@testable import LoomCheckpoint

/// Paths of the committed fixtures made by tools/fixtures/make_safetensors_fixtures.py.
enum Fixtures {
    static var directory: String {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            preconditionFailure("Fixtures folder missing from the test bundle")
        }
        return url.appendingPathComponent("safetensors").path
    }

    static func path(_ name: String) -> String { "\(directory)/\(name)" }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

/// A fresh temporary directory per test, removed afterwards.
class TemporaryDirectoryTestCase: XCTestCase {
    private(set) var temporaryDirectory = ""

    override func setUpWithError() throws {
        temporaryDirectory = NSTemporaryDirectory() + "loom-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: temporaryDirectory)
    }

    func temporaryPath(_ name: String) -> String { "\(temporaryDirectory)/\(name)" }

    /// Writes `bytes` to a file named `name` in the temporary directory and returns its path.
    @discardableResult
    func writeFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = temporaryPath(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func readBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// A safetensors file built by hand: 8-byte length (the header's, unless `declaredLength` overrides
/// it), the header text, then `data`.
func safetensorsBytes(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    return safetensorsBytes(headerBytes: headerBytes, data: data, declaredLength: declaredLength)
}

func safetensorsBytes(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    let length = declaredLength ?? UInt64(headerBytes.count)
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
    bytes += headerBytes
    bytes += data
    return bytes
}

/// Little-endian bytes of Float32 values.
func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt32($0))) } }
}

/// Asserts that `body` throws a `CheckpointError` whose message contains every one of `fragments`.
func assertCheckpointError<T>(_ body: @autoclosure () throws -> T, contains fragments: [String],
                              file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a CheckpointError containing \(fragments)", file: file, line: line)
    } catch let error as CheckpointError {
        for fragment in fragments where !error.description.contains(fragment) {
            XCTFail("error \"\(error.description)\" does not contain \"\(fragment)\"", file: file, line: line)
        }
    } catch {
        XCTFail("expected a CheckpointError, got \(error)", file: file, line: line)
    }
}
