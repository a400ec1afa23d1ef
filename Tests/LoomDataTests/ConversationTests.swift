import Foundation
import XCTest
@testable import LoomData

final class ConversationTests: XCTestCase {
    func write(_ text: String, _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-data-\(UUID().uuidString)-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testLLaVAJSONAndJSONL() throws {
        let json = """
        [{"id": "a1", "image": "x.jpg", "conversations": [{"from": "human", "value": "<image>\\nWhat?"}, {"from": "gpt", "value": "A cat."}]},
         {"id": 7, "images": ["p.png", "q.png"], "audio": "s.wav", "model": "ignored", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
         {"id": "broken", "conversations": "nope"}]
        """
        let (samples, failures) = try DatasetFile.read(try write(json, "d.json"))
        XCTAssertEqual(samples.map(\.id), ["a1", "7"])
        XCTAssertEqual(samples[0].media, ["image": ["x.jpg"]])
        XCTAssertEqual(samples[1].media, ["image": ["p.png", "q.png"], "audio": ["s.wav"]])
        XCTAssertEqual(failures.count, 1)
        XCTAssertTrue(failures[0].description.contains("sample 2"), failures[0].description)

        let jsonl = """
        {"id": "l1", "audios": ["a.wav"], "conversations": [{"from": "human", "value": "<audio> said?"}, {"from": "gpt", "value": "hello"}]}

        {not json}
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "r"}]}
        """
        let (lines, bad) = try DatasetFile.read(try write(jsonl, "d.jsonl"))
        XCTAssertEqual(lines.map(\.id), ["l1", "line 4"])
        XCTAssertEqual(bad.map(\.position), ["line 3"])
        XCTAssertThrowsError(try DatasetFile.read("/nonexistent/data.json")) { XCTAssertTrue("\($0)".contains("/nonexistent/data.json")) }
    }
}
