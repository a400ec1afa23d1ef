import Foundation
import XCTest
@testable import LoomTokenizer

/// Training byte-level BPE: the written folder loads, round-trips any text, merges what is frequent,
/// and comes out the same every time.
final class BPETrainerTests: XCTestCase {
    static func trained(_ lines: [String], vocabularySize: Int = 600, minimumFrequency: Int = 2,
                        extraSpecialTokens: [String] = []) throws -> TrainedBPE {
        let trainer = try BPETrainer(options: BPETrainingOptions(vocabularySize: vocabularySize, minimumFrequency: minimumFrequency,
                                                                 extraSpecialTokens: extraSpecialTokens))
        trainer.add(contentsOf: lines)
        return trainer.train()
    }

    /// Writes the folder and loads it back with Loom's loader.
    static func loaded(_ trained: TrainedBPE) throws -> Tokenizer {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loom-bpe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try trained.write(to: folder)
        return try Tokenizer(directory: folder)
    }

    /// Texts no corpus prepares a tokenizer for.
    static let awkward = [
        "", " ", "  ", "\n", "\n\n", "\r\n", "\t", " \n \n ", "a", "é", "e\u{301}", "Ⅻ", "١٢٣",
        "trailing space ", " leading space", "two  spaces", "line one\nline two\n", "tab\there",
        "Hello, World! 你好，世界！ Привет, мир! مرحبا", "😀👍🏽👨‍👩‍👧🇯🇵", "\u{0}\u{1}\u{7F}\u{85}\u{2028}",
        "\u{FEFF}BOM and \u{200B}zero width", "It's I'd we'll they've", "<s>", "</s>", "<pad>", "<s> </s><pad>x",
        "</s>USER: hi", "<image>", "<ima", "s>", "a</s", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", String(repeating: "ab", count: 300),
    ]

    func testRoundTripIsLosslessOnAnyText() throws {
        let corpus = try TokenizerFixture.corpus("train")
        let tokenizer = try Self.loaded(Self.trained(corpus))
        XCTAssertEqual(tokenizer.vocabularySize, 600)
        for text in try TokenizerFixture.corpus("test") + Self.awkward {
            let plain = tokenizer.encode(text, addSpecialTokens: false)
            XCTAssertEqual(scalars(tokenizer.decode(plain)), scalars(text), shown(text))
            let ids = tokenizer.encode(text)
            XCTAssertEqual(ids.first, 0, shown(text))
            XCTAssertEqual(Array(ids.dropFirst()), plain, shown(text))
            XCTAssertEqual(scalars(tokenizer.decode(ids)), scalars("<s>" + text), shown(text))
        }
        XCTAssertEqual(tokenizer.encode("</s>", addSpecialTokens: false), [1])
        XCTAssertEqual(tokenizer.encode("a<pad>", addSpecialTokens: false).last, 2)
    }

    func testTrainingIsDeterministicAndIndependentOfLineOrder() throws {
        let corpus = try TokenizerFixture.corpus("train")
        let first = try Self.trained(corpus).tokenizerJSON()
        XCTAssertEqual(Array(try Self.trained(corpus).tokenizerJSON().utf8), Array(first.utf8))
        XCTAssertEqual(Array(try Self.trained(corpus.reversed()).tokenizerJSON().utf8), Array(first.utf8))
    }

    func testFrequentWordsBecomeOneToken() throws {
        let lines = Array(repeating: "the cat sat on the mat with the hat", count: 50) + ["a quick zebra"]
        let trained = try Self.trained(lines)
        let tokenizer = try Self.loaded(trained)
        for word in ["the", " cat", " sat", " on", " the", " mat", " with", " hat"] {
            XCTAssertEqual(tokenizer.encode(word, addSpecialTokens: false).count, 1, word)
        }
        XCTAssertEqual(tokenizer.encode("the cat sat on the mat", addSpecialTokens: false).count, 6)
        // Seen once: below the minimum frequency, so never merged.
        XCTAssertEqual(tokenizer.encode(" zebra", addSpecialTokens: false).count, 6)
        // Training stops when no pair occurs twice, short of the requested size.
        XCTAssertLessThan(trained.tokens.count, 600)
        XCTAssertEqual(trained.tokens.count, 3 + 256 + trained.merges.count)
        XCTAssertEqual(trained.statistics.tokens, 50 * 9 + 1 + 6 + 6)
    }

    func testMostFrequentPairFirstAndTiesByText() throws {
        // "ab" and "cd" both occur 3 times, "xy" 4 times: xy first, then ab before cd.
        let lines = ["ab ab ab", "cd cd cd", "xy xy xy xy"]
        let trained = try Self.trained(lines, vocabularySize: 3 + 256 + 3, minimumFrequency: 1)
        // Words "ab", " ab" ×2, …: (a, b) and (c, d) 3 times, (Ġ, x) 3 times too, but "Ġ" (U+0120)
        // comes after the ASCII letters.
        XCTAssertEqual(trained.merges.map { $0.left + "|" + $0.right }, ["x|y", "a|b", "c|d"])
        let more = try Self.trained(lines, vocabularySize: 3 + 256 + 6, minimumFrequency: 1)
        XCTAssertEqual(more.merges.map { $0.left + "|" + $0.right }, ["x|y", "a|b", "c|d", "Ġ|xy", "Ġ|ab", "Ġ|cd"])
    }

    func testTokenCountIsWhatTheTokenizerProduces() throws {
        let corpus = try TokenizerFixture.corpus("train") + ["<s>specials count once</s>", "<pad><pad>"]
        let trained = try Self.trained(corpus, vocabularySize: 700)
        let tokenizer = try Self.loaded(trained)
        let encoded = corpus.reduce(0) { $0 + tokenizer.encode($1, addSpecialTokens: false).count }
        XCTAssertEqual(trained.statistics.tokens, encoded)
        XCTAssertEqual(trained.statistics.lines, corpus.count)
        XCTAssertEqual(trained.statistics.bytes, corpus.reduce(0) { $0 + $1.utf8.count })
        XCTAssertGreaterThan(trained.statistics.bytesPerToken, 1.5)
    }

    func testSpecialTokensAreNotLearnedFrom() throws {
        let lines = Array(repeating: "<image>\nDescribe it.</s>", count: 40)
        let trained = try Self.trained(lines, extraSpecialTokens: ["<image>"])
        XCTAssertEqual(Array(trained.tokens.prefix(4)), ["<s>", "</s>", "<pad>", "<image>"])
        XCTAssertEqual(trained.tokens.dropFirst(4 + 256).filter { $0.contains("<") || $0.contains("im") || $0.contains("/s") }, [])
        let tokenizer = try Self.loaded(trained)
        XCTAssertEqual(tokenizer.encode("<image>\nDescribe it.</s>"), [0, 3] + tokenizer.encode("\nDescribe it.", addSpecialTokens: false) + [1])
        XCTAssertTrue(tokenizer.isSpecialToken(3))
    }

    func testFolderFilesNameTheSpecialTokens() throws {
        let trained = try Self.trained(["hello world"], extraSpecialTokens: ["<image>", "quote\"back\\slash"])
        let config = try JSONSerialization.jsonObject(with: Data(trained.configurationJSON().utf8)) as! [String: Any]
        XCTAssertEqual(config["tokenizer_class"] as? String, "PreTrainedTokenizerFast")
        XCTAssertEqual(config["bos_token"] as? String, "<s>")
        XCTAssertEqual(config["eos_token"] as? String, "</s>")
        XCTAssertEqual(config["pad_token"] as? String, "<pad>")
        XCTAssertTrue(config["unk_token"] is NSNull)
        XCTAssertEqual(config["add_bos_token"] as? Bool, true)
        XCTAssertEqual(config["clean_up_tokenization_spaces"] as? Bool, false)
        XCTAssertEqual(config["additional_special_tokens"] as? [String], ["<image>", "quote\"back\\slash"])
        let map = try JSONSerialization.jsonObject(with: Data(trained.specialTokensMapJSON().utf8)) as! [String: Any]
        XCTAssertEqual(map["additional_special_tokens"] as? [String], ["<image>", "quote\"back\\slash"])
        let tokenizer = try Self.loaded(trained)
        XCTAssertEqual(tokenizer.tokenToId("quote\"back\\slash"), 4)
        XCTAssertEqual(tokenizer.configuration?.modelMaxLength, 2048)
    }

    func testBadOptionsAreReported() {
        func message(_ options: BPETrainingOptions) -> String {
            do {
                _ = try BPETrainer(options: options)
                return ""
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message(BPETrainingOptions(vocabularySize: 258)).contains("too small"))
        XCTAssertTrue(message(BPETrainingOptions(vocabularySize: 500, minimumFrequency: 0)).contains("minimum frequency"))
        XCTAssertTrue(message(BPETrainingOptions(vocabularySize: 500, extraSpecialTokens: ["</s>"])).contains("twice"))
        XCTAssertTrue(message(BPETrainingOptions(vocabularySize: 500, extraSpecialTokens: ["Ġ"])).contains("byte symbols"))
        XCTAssertTrue(message(BPETrainingOptions(vocabularySize: 500, extraSpecialTokens: [""])).contains("empty"))
        XCTAssertEqual(message(BPETrainingOptions(vocabularySize: 259)), "")
    }

    func testInvalidUTF8LineIsReportedWithItsNumber() throws {
        let trainer = try BPETrainer(options: BPETrainingOptions(vocabularySize: 300))
        XCTAssertThrowsError(try trainer.addLines(of: Data([0x61, 0x0A, 0x0A, 0x62, 0xFF, 0x0A]), source: "c.txt")) {
            XCTAssertEqual("\($0)", "c.txt:3: not valid UTF-8")
        }
    }
}
