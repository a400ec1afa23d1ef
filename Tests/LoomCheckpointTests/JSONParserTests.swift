import XCTest
@testable import LoomCheckpoint

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func testScalarsAndEscapes() throws {
        guard case .object(let members) = try parse(#" {"a": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "b": [true, false, null, -0, 12, 1.5e-3]} "#) else {
            return XCTFail("expected an object")
        }
        XCTAssertEqual(members.map(\.key), ["a", "b"])
        guard case .string(let text) = members[0].value else { return XCTFail("expected a string") }
        XCTAssertEqual(text, "x\"\\/\u{08}\u{0C}\n\r\té😀")
        guard case .array(let items) = members[1].value else { return XCTFail("expected an array") }
        XCTAssertEqual(items.count, 6)
        XCTAssertEqual(items[4].integer, 12)
        XCTAssertNil(items[5].integer)
    }

    func testRejectsMalformedText() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\u{01}\"", "\"\\x\"", "tru", "{} {}", "\"\\udc00\"", "{\"a\":1,\"a\":2}"] {
            XCTAssertThrowsError(try parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testNestingLimit() {
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 128) + String(repeating: "]", count: 128)))
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 129) + String(repeating: "]", count: 129)))
    }

    func testEncodingStyles() {
        var serde: [UInt8] = []
        JSONEncoding.appendString("é\u{7F}\u{01}\"", style: .serde, to: &serde)
        XCTAssertEqual(String(decoding: serde, as: UTF8.self), "\"é\u{7F}\\u0001\\\"\"")
        var python: [UInt8] = []
        JSONEncoding.appendString("é😀", style: .pythonASCII, to: &python)
        XCTAssertEqual(String(decoding: python, as: UTF8.self), #""\u00e9\ud83d\ude00""#)
    }
}
