import Foundation
import XCTest
@testable import LoomTokenizer

/// The fixtures made by tools/fixtures/make_tokenizer_fixtures.py (see its docstring).
enum TokenizerFixture {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(path)), options: [.fragmentsAllowed])
    }

    /// Every tokenizer folder, sorted.
    static var names: [String] {
        let manifest = try! json("manifest.json") as! [String: Any]
        return manifest.keys.sorted()
    }

    /// The lines of corpus/<name>.jsonl. JSONSerialization's strings keep the exact scalars.
    static func corpus(_ name: String) throws -> [String] {
        let text = try String(contentsOf: url("corpus/\(name).jsonl"), encoding: .utf8)
        return try text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return object["text"] as! String
        }
    }

    struct Golden {
        var ids: [Int]
        var plain: [Int]
        var text: String
        var skip: String
        var every2: String
    }

    static func goldens(_ name: String) throws -> [Golden] {
        let cases = try json("\(name)/goldens.json") as! [[String: Any]]
        return cases.map { c in
            Golden(ids: c["ids"] as! [Int], plain: c["plain"] as! [Int], text: c["text"] as! String,
                   skip: c["skip"] as! String, every2: c["every2"] as! String)
        }
    }

    static func tokenizer(_ name: String) throws -> Tokenizer {
        try Tokenizer(directory: url(name))
    }
}

/// Strings compared scalar by scalar: XCTAssertEqual on Strings would accept canonically equivalent
/// but different texts.
func scalars(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }

/// A readable form of a test line for failure messages.
func shown(_ text: String) -> String {
    let escaped = text.unicodeScalars.map { scalar -> String in
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value)
            ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
    }.joined()
    return escaped.count > 80 ? String(escaped.prefix(80)) + "…" : escaped
}
