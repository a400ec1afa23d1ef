import Foundation
import XCTest
@testable import LoomTokenizer

/// Loom's character classes against the ones read off tokenizers itself (Oniguruma for the Split
/// regexes, Rust regex / char for added tokens and the character pre-tokenizers), for every scalar.
final class UnicodeClassTests: XCTestCase {
    func testClassesAgreeWithTheReferenceEnginesOnEveryScalar() throws {
        let reference = try TokenizerFixture.json("unicode_classes.json") as! [String: [[Int]]]
        let pairs: [(String, UnicodeClass)] = [
            ("onig_L", .letter), ("onig_N", .number), ("onig_S", .whitespace), ("rust_w", .word),
            ("rust_s", .whitespace), ("rust_numeric", .numeric), ("rust_punctuation", .punctuation),
            ("rust_mark", .mark),
        ]
        var flags = [UInt8](repeating: 0, count: 0x110000)
        for value in 0..<0x110000 { flags[value] = UnicodeClass.of(UInt32(value)).rawValue }
        for (name, cls) in pairs {
            var expected = [Bool](repeating: false, count: 0x110000)
            for range in reference[name]! { for value in range[0]...range[1] { expected[value] = true } }
            var differing: [String] = []
            for value in 0..<0x110000 where !(0xD800..<0xE000).contains(value) {
                let actual = flags[value] & cls.rawValue != 0
                if actual != expected[value] { differing.append(String(value, radix: 16)) }
            }
            XCTAssertTrue(differing.isEmpty, "\(name): \(differing.count) scalars differ: \(differing.prefix(20))")
        }
    }
}
