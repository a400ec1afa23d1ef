import Foundation
import XCTest
@testable import LoomTokenizer

/// Every line of the test corpus, through every fixture tokenizer: ids with and without special
/// tokens and the decoded strings must equal the tokenizers library's, exactly.
final class TokenizerParityTests: XCTestCase {
    func testEveryTokenizerMatchesTheReferenceOnEveryLine() throws {
        let texts = try TokenizerFixture.corpus("test")
        var summary: [String] = []
        for name in TokenizerFixture.names {
            let tokenizer = try TokenizerFixture.tokenizer(name)
            let goldens = try TokenizerFixture.goldens(name)
            XCTAssertEqual(goldens.count, texts.count, name)
            var mismatches = 0
            for (text, golden) in zip(texts, goldens) {
                var problems: [String] = []
                let ids = tokenizer.encode(text)
                if ids != golden.ids { problems.append("ids \(ids) != \(golden.ids)") }
                let plain = tokenizer.encode(text, addSpecialTokens: false)
                if plain != golden.plain { problems.append("plain ids \(plain) != \(golden.plain)") }
                let decoded = tokenizer.decode(golden.ids)
                if scalars(decoded) != scalars(golden.text) { problems.append("decode \"\(shown(decoded))\" != \"\(shown(golden.text))\"") }
                let skipped = tokenizer.decode(golden.ids, skipSpecialTokens: true)
                if scalars(skipped) != scalars(golden.skip) { problems.append("decode(skip) \"\(shown(skipped))\" != \"\(shown(golden.skip))\"") }
                let every2 = tokenizer.decode(golden.ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
                if scalars(every2) != scalars(golden.every2) { problems.append("decode(ids[::2]) \"\(shown(every2))\" != \"\(shown(golden.every2))\"") }
                if !problems.isEmpty {
                    mismatches += 1
                    if mismatches <= 5 {
                        XCTFail("\(name): \"\(shown(text))\": " + problems.joined(separator: "; "))
                    }
                }
            }
            summary.append("\(name): \(texts.count - mismatches)/\(texts.count) lines identical")
        }
        print("tokenizer parity:\n  " + summary.joined(separator: "\n  "))
    }

    func testVocabularySizeMatchesTheReference() throws {
        let manifest = try TokenizerFixture.json("manifest.json") as! [String: [String: Int]]
        for (name, sizes) in manifest {
            let tokenizer = try TokenizerFixture.tokenizer(name)
            XCTAssertEqual(tokenizer.vocabularySize, sizes["vocab_size"], name)
        }
    }

    /// LLaVA's tokenizer_image_token, re-implemented in the fixture script over tokenizers.
    func testImagePromptsMatchLlavaTokenizerImageToken() throws {
        let cases = try TokenizerFixture.json("image_prompts.json") as! [[String: Any]]
        XCTAssertFalse(cases.isEmpty)
        var tokenizers: [String: Tokenizer] = [:]
        for c in cases {
            let name = c["tokenizer"] as! String
            let prompt = c["prompt"] as! String
            let tokenizer = try tokenizers[name] ?? TokenizerFixture.tokenizer(name)
            tokenizers[name] = tokenizer
            XCTAssertEqual(tokenizer.encodeImagePrompt(prompt, placeholder: "<image>", placeholderId: -200), c["ids"] as! [Int],
                           "\(name): \(shown(prompt))")
        }
    }

    func testSpecialTokenIds() throws {
        let llama = try TokenizerFixture.tokenizer("llama2_sentencepiece")
        XCTAssertEqual(llama.bosTokenId, 1)
        XCTAssertEqual(llama.eosTokenId, 2)
        XCTAssertNil(llama.padTokenId)  // "pad_token": null in tokenizer_config.json
        XCTAssertEqual(llama.unkTokenId, 0)
        XCTAssertEqual(llama.configuration?.addsBosToken, true)
        XCTAssertEqual(llama.encode("Hello <s>.").first, 1)

        let qwen = try TokenizerFixture.tokenizer("qwen2_split")
        XCTAssertNil(qwen.bosTokenId)
        XCTAssertEqual(qwen.eosTokenId, qwen.tokenToId("<|im_end|>"))
        XCTAssertEqual(qwen.padTokenId, qwen.tokenToId("<|endoftext|>"))

        // No tokenizer_config.json: from the post-processor template / added tokens.
        let llama3 = try TokenizerFixture.tokenizer("llama3_split")
        XCTAssertNil(llama3.configuration)
        XCTAssertEqual(llama3.bosTokenId, llama3.tokenToId("<|begin_of_text|>"))
        let roberta = try TokenizerFixture.tokenizer("roberta_bytelevel")
        XCTAssertEqual(roberta.bosTokenId, roberta.tokenToId("<s>"))
        XCTAssertEqual(roberta.eosTokenId, roberta.tokenToId("</s>"))
        XCTAssertEqual(roberta.padTokenId, roberta.tokenToId("<pad>"))
        let gpt2 = try TokenizerFixture.tokenizer("gpt2_bytelevel")
        XCTAssertNil(gpt2.bosTokenId)
        XCTAssertEqual(gpt2.eosTokenId, gpt2.tokenToId("<|endoftext|>"))

        let meta = try TokenizerFixture.tokenizer("metaspace_first")
        XCTAssertEqual(meta.bosTokenId, meta.tokenToId("<s>"))  // an AddedToken object in the config
        XCTAssertEqual(meta.padTokenId, meta.tokenToId("</s>"))
    }

    func testTokenLookups() throws {
        let llama = try TokenizerFixture.tokenizer("llama2_sentencepiece")
        XCTAssertEqual(llama.tokenToId("<0x0A>"), 3 + 0x0A)
        XCTAssertEqual(llama.idToToken(3 + 0x0A), "<0x0A>")
        XCTAssertEqual(llama.tokenToId("<image>"), llama.vocabularySize - 2)
        XCTAssertTrue(llama.isSpecialToken(llama.tokenToId("<image>")!))
        XCTAssertFalse(llama.isSpecialToken(llama.tokenToId("<sep>")!))
        // A normalized added token shows its normalized form, as tokenizers' id_to_token does.
        XCTAssertEqual(llama.idToToken(llama.tokenToId("<sep>")!), "▁<sep>")
        XCTAssertNil(llama.idToToken(1_000_000))
        XCTAssertNil(llama.tokenToId("definitely not a token"))
    }

    /// A word's ids inside a sentence carry the tokenizer's own word-start mark (byte-level BPE's "Ġ",
    /// SentencePiece's "▁"), and end any sentence that ends with the word.
    func testWordIdsInASentence() throws {
        for (name, mark) in [("gpt2_bytelevel", "Ġ"), ("llama2_sentencepiece", "▁")] {
            let tokenizer = try TokenizerFixture.tokenizer(name)
            for word in ["circle", "hello", "diamond", "yellow"] {
                let ids = tokenizer.idsInSentence(word: word)
                XCTAssertFalse(ids.isEmpty)
                XCTAssertTrue(tokenizer.idToToken(ids[0])?.hasPrefix(mark) ?? false, "\(name) \(word): \(ids.map { tokenizer.idToToken($0) ?? "?" })")
                let sentence = tokenizer.encode("where is the " + word, addSpecialTokens: false)
                XCTAssertEqual(Array(sentence.suffix(ids.count)), ids, "\(name) \(word)")
            }
        }
    }

    func testEncodeBatchEqualsEncode() throws {
        let texts = try TokenizerFixture.corpus("test")
        let tokenizer = try TokenizerFixture.tokenizer("qwen2_split")
        XCTAssertEqual(tokenizer.encodeBatch(texts, threads: 3), texts.map { tokenizer.encode($0) })
    }

    /// Composed and decomposed "é" are different tokens even though Swift Strings call them equal.
    func testCanonicallyEquivalentTokensStayDistinct() throws {
        let tokenizer = try TokenizerFixture.tokenizer("llama2_sentencepiece")
        XCTAssertNotEqual(tokenizer.encode("caf\u{E9}", addSpecialTokens: false),
                          tokenizer.encode("cafe\u{301}", addSpecialTokens: false))
    }
}

extension TokenizerParityTests {
    /// Pair encodings through each post-processor's pair template.
    func testPairsMatchTheReference() throws {
        let texts = try TokenizerFixture.corpus("test")
        let pairs = try TokenizerFixture.json("pairs.json") as! [String: [[Int]]]
        for (name, expected) in pairs.sorted(by: { $0.key < $1.key }) {
            let tokenizer = try TokenizerFixture.tokenizer(name)
            for (k, ids) in expected.enumerated() {
                XCTAssertEqual(tokenizer.encode(texts[k], pair: texts[k + 1]), ids, "\(name): pair \(k)")
            }
        }
    }
}
