import Foundation
import XCTest
@testable import LoomTokenizer

/// Isolated splits of random strings of awkward characters (line breaks, Unicode spaces, combining
/// marks, long s, Kelvin sign, digits of other scripts, emoji with modifiers) by the hand scanners and
/// by ICU, against Oniguruma's splits recorded by the fixture script.
final class RegexSplitTests: XCTestCase {
    func testSplitsMatchOniguruma() throws {
        let fixture = try TokenizerFixture.json("regex_splits.json") as! [String: Any]
        let texts = fixture["texts"] as! [String]
        let sources: [String: String] = [
            "gpt2": TextPattern.gpt2Source, "llama3": TextPattern.llama3Source, "qwen2": TextPattern.qwen2Source,
            "numbers": #"\p{N}+"#, "spaces_before_word": #"\s+(?!\S)"#, "non_letters": #"[^\s\p{L}]+"#,
            "case_insensitive": "(?i:re|ll)", "upper": #"\p{Lu}+"#, "possessive": #"[^\r\n\p{L}\p{N}]?+\p{L}++"#,
        ]
        for (name, source) in sources.sorted(by: { $0.key < $1.key }) {
            let pattern = try TextPattern.regex(source)
            let expected = fixture[name] as! [[Int]]
            var failures = 0
            for (text, lengths) in zip(texts, expected) {
                let pieces = isolatedPieces(text, pattern).map { $0.unicodeScalars.count }
                if pieces != lengths {
                    failures += 1
                    if failures <= 3 { XCTFail("\(name): \"\(shown(text))\": \(pieces) != \(lengths)") }
                }
            }
            print("\(name): \(texts.count - failures)/\(texts.count) splits identical")
        }
    }

    private func isolatedPieces(_ text: String, _ pattern: TextPattern) -> [String] {
        let bytes = Array(text.utf8)
        var matches: [Span] = [], segments: [(span: Span, isMatch: Bool)] = [], spans: [Span] = []
        bytes.withUnsafeBufferPointer { buffer in
            pattern.segments(buffer.baseAddress ?? emptyBytes, 0, buffer.count, matches: &matches, into: &segments)
        }
        SplitBehavior.isolated.appendPieces(of: segments, invert: false, into: &spans)
        return spans.map { String(decoding: bytes[$0.start..<$0.end], as: UTF8.self) }
    }

    func testSplitBehaviorsOnTheDocumentedExample() {
        let text = Array("the-final--countdown".utf8)
        let expected: [(SplitBehavior, [String])] = [
            (.removed, ["the", "final", "countdown"]),
            (.isolated, ["the", "-", "final", "-", "-", "countdown"]),
            (.mergedWithPrevious, ["the-", "final-", "-", "countdown"]),
            (.mergedWithNext, ["the", "-final", "-", "-countdown"]),
            (.contiguous, ["the", "-", "final", "--", "countdown"]),
        ]
        for (behavior, pieces) in expected {
            var matches: [Span] = [], segments: [(span: Span, isMatch: Bool)] = [], spans: [Span] = []
            text.withUnsafeBufferPointer { buffer in
                TextPattern.literal(Array("-".utf8)).segments(buffer.baseAddress!, 0, buffer.count, matches: &matches,
                                                               into: &segments)
            }
            behavior.appendPieces(of: segments, invert: false, into: &spans)
            XCTAssertEqual(spans.map { String(decoding: text[$0.start..<$0.end], as: UTF8.self) }, pieces, "\(behavior)")
        }
    }
}
