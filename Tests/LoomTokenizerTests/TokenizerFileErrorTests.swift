import Foundation
import XCTest
@testable import LoomTokenizer

/// Broken tokenizer files throw (never trap) with messages naming the file and the key or component.
final class TokenizerFileErrorTests: XCTestCase {
    func testEveryBrokenFileThrowsANamedError() throws {
        let expected = try TokenizerFixture.json("errors/expected.json") as! [String: [String]]
        XCTAssertGreaterThan(expected.count, 10)
        for (name, words) in expected.sorted(by: { $0.key < $1.key }) {
            let url = TokenizerFixture.url("errors/\(name).json")
            do {
                _ = try Tokenizer(tokenizerJSON: url)
                XCTFail("\(name): loaded without an error")
            } catch let error as TokenizerError {
                let message = error.description
                XCTAssertTrue(message.contains(url.path), "\(name): message does not name the file: \(message)")
                for word in words {
                    XCTAssertTrue(message.contains(word), "\(name): message lacks '\(word)': \(message)")
                }
                print("\(name): \(message.replacingOccurrences(of: TokenizerFixture.root.path + "/", with: ""))")
            }
        }
    }

    func testMissingFolderAndFileAreNamed() {
        let folder = URL(fileURLWithPath: "/nonexistent/tokenizer-folder")
        XCTAssertThrowsError(try Tokenizer(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/tokenizer-folder"), "\(error)")
        }
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: folder.appendingPathComponent("tokenizer.json"))) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json"), "\(error)")
        }
    }

    func testMalformedJSONVariantsThrow() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-tokenizer-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bodies = [
            "", "{", "[]", "null", "{\"model\": []}", "{\"model\": {\"type\": \"BPE\"}}",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}}",
            "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{}]}",
            "{\"version\": \"2.0\", \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
            "{\"model\": {\"vocab\": {}, \"merges\": []}, \"normalizer\": {\"type\": \"Strip\"}}",
            "{\"model\": {\"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}}",
            "{\"model\": {\"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\", \"invert\": false}}",
            "{\"a\": \"\\ud800\"}", "{\"a\": 1} x", String(repeating: "[", count: 1000),
        ]
        for (index, body) in bodies.enumerated() {
            let url = directory.appendingPathComponent("case\(index).json")
            try Data(body.utf8).write(to: url)
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: url), "case \(index): \(body.prefix(60))") { error in
                XCTAssertTrue("\(error)".contains("case\(index).json"), "case \(index): \(error)")
            }
        }
    }
}
