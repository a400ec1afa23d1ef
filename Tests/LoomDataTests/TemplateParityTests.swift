import Foundation
import XCTest
import LoomTokenizer
@testable import LoomData

/// Loom's conversation tokenization against a Python re-implementation of LLaVA's preprocessing
/// (`preprocess_multimodal`, `preprocess_plain`, `preprocess_v1`, `tokenizer_image_token`) over real
/// tokenizer.json files. The goldens, the conversations (LLaVA JSON) and the tokenizers are in
/// Fixtures/templates/, written by tools/fixtures/make_template_fixtures.py (see its README.md).
final class TemplateParityTests: XCTestCase {
    // MARK: Fixtures

    struct Goldens: Decodable {
        var tokenizers: [String: Entry]
    }

    struct Entry: Decodable {
        var folder: String
        var bosId: Int?
        var eosId: Int?
        var padId: Int?
        var configLegacy: Bool?
        /// The legacy flag LLaVA's arithmetic needs, as Loom decides it (nil without vicuna goldens).
        var legacy: Bool?
        /// What the older "same ids after a special token" rule said.
        var legacyByIds: Bool?
        var templates: [String: [String: Golden]]

        enum CodingKeys: String, CodingKey {
            case folder, legacy, templates
            case bosId = "bos_id", eosId = "eos_id", padId = "pad_id", configLegacy = "config_legacy", legacyByIds = "legacy_by_ids"
        }
    }

    struct Labelled: Decodable {
        var supervised: [[Int]]
        var mismatch: Bool?
    }

    struct Golden: Decodable {
        var ids: [Int]
        var supervised: [[Int]]
        var mismatch: Bool?
        var otherLegacy: Labelled?
        var llavaNext: Next?

        struct Next: Decodable {
            var ids: [Int]
            var supervised: [[Int]]
        }

        enum CodingKeys: String, CodingKey {
            case ids, supervised, mismatch
            case otherLegacy = "other_legacy", llavaNext = "llava_next"
        }
    }

    static let folder: URL = Bundle.module.url(forResource: "Fixtures/templates", withExtension: nil)!

    static let goldens: Goldens = {
        let data = try! Data(contentsOf: folder.appendingPathComponent("goldens.json"))
        return try! JSONDecoder().decode(Goldens.self, from: data)
    }()

    static let conversations: [Conversation] = {
        let (samples, failures) = try! DatasetFile.read(folder.appendingPathComponent("conversations.json").path)
        precondition(failures.isEmpty, "\(failures)")
        return samples
    }()

    func tokenizer(_ name: String) throws -> (Tokenizer, Entry) {
        let entry = try XCTUnwrap(Self.goldens.tokenizers[name], "no goldens for \(name)")
        return (try Tokenizer(directory: Self.folder.appendingPathComponent(entry.folder)), entry)
    }

    static let llamaStyle = ["smoke", "llama2_sentencepiece", "smoke_metaspace", "smoke_metaspace_split"]

    /// Labels from the golden's supervised ranges: the id there, −100 elsewhere.
    func labels(_ ids: [Int], _ supervised: [[Int]]) -> [Int] {
        var labels = [Int](repeating: TokenizedSample.ignoreIndex, count: ids.count)
        for range in supervised { for i in range[0]..<range[1] { labels[i] = ids[i] } }
        return labels
    }

    func show(_ tokenizer: Tokenizer, _ ids: [Int], around index: Int) -> String {
        let lo = max(0, index - 4), hi = min(ids.count, index + 5)
        return ids[lo..<hi].map { $0 < 0 ? "\($0)" : tokenizer.idToToken($0) ?? "?" }.joined(separator: " ")
    }

    /// Compares one Loom result with one golden; returns a description of the first difference.
    func difference(_ tokenizer: Tokenizer, _ result: Result<TokenizedSample, Error>, ids: [Int],
                    supervised: [[Int]], mismatch: Bool) -> String? {
        switch result {
        case .failure(let error):
            if mismatch, let e = error as? SampleError, e.kind == .tokenizationMismatch { return nil }
            return mismatch ? "expected a tokenization mismatch, got \(error)" : "threw \(error)"
        case .success(let sample):
            if mismatch { return "LLaVA reports a tokenization mismatch (all labels −100), Loom returned a sample" }
            if sample.ids != ids {
                let i = (0..<min(sample.ids.count, ids.count)).first { sample.ids[$0] != ids[$0] } ?? min(sample.ids.count, ids.count)
                return "ids differ at \(i) (Loom \(sample.ids.count) ids, LLaVA \(ids.count)): Loom [\(show(tokenizer, sample.ids, around: i))] LLaVA [\(show(tokenizer, ids, around: i))]"
            }
            let expected = labels(ids, supervised)
            if sample.labels != expected {
                let i = sample.labels.indices.first { sample.labels[$0] != expected[$0] }!
                return "labels differ at \(i) [\(show(tokenizer, ids, around: i))]: Loom \(sample.labels[max(0, i - 2)..<min(ids.count, i + 3)]) LLaVA \(expected[max(0, i - 2)..<min(ids.count, i + 3)])"
            }
            return nil
        }
    }

    func run(_ t: ConversationTokenizer, _ conversation: Conversation) -> Result<TokenizedSample, Error> {
        Result { try t.tokenize(conversation) }
    }

    // MARK: Parity

    func testConversationsDecodeFromLLaVAJSON() {
        XCTAssertEqual(Self.conversations.count, 44)
        XCTAssertEqual(Self.conversations.filter { $0.media["image"] != nil }.count, 32)
        XCTAssertTrue(Self.conversations.allSatisfy { $0.media["image"] == nil || $0.media["image"] == ["\($0.id).png"] })
    }

    func testLegacyFlagIsDecidedFromTheTokenizer() throws {
        for name in Self.llamaStyle {
            let (tokenizer, entry) = try tokenizer(name)
            XCTAssertEqual(tokenizer.isLegacy, entry.legacy, name)
        }
        // The two non-legacy conversions of the smoke tokenizer: both drop the "▁" after "</s>", but
        // only the second makes the text after it one token shorter, which is what LLaVA's −1 is for.
        XCTAssertEqual(try tokenizer("smoke_metaspace").1.legacyByIds, false)
        XCTAssertEqual(try tokenizer("smoke_metaspace").1.legacy, true)
        XCTAssertEqual(try tokenizer("smoke_metaspace_split").1.legacy, false)
        // tokenizer_config.json's flag is not what the smoke tokenizer does.
        XCTAssertEqual(try tokenizer("smoke").1.configLegacy, false)
        XCTAssertEqual(try tokenizer("smoke").1.legacy, true)
    }

    func testPlainMatchesLLaVA() throws {
        for name in Self.llamaStyle + ["qwen2_split"] {
            let (tokenizer, entry) = try tokenizer(name)
            let goldens = try XCTUnwrap(entry.templates["plain"])
            let t = ConversationTokenizer(template: .plain, tokenizer: tokenizer, placeholders: [.image], padTokenId: entry.padId)
            var compared = 0
            for conversation in Self.conversations {
                guard let golden = goldens[conversation.id] else {
                    // LLaVA's preprocess_plain asserts two turns with <image> in the first: Loom refuses.
                    XCTAssertThrowsError(try t.tokenize(conversation), "\(name) plain \(conversation.id)")
                    continue
                }
                compared += 1
                if let d = difference(tokenizer, run(t, conversation), ids: golden.ids, supervised: golden.supervised, mismatch: false) {
                    XCTFail("\(name) plain \(conversation.id): \(d)")
                }
            }
            XCTAssertEqual(compared, 23, name)
        }
    }

    func testVicunaV1MatchesLLaVA() throws {
        for name in Self.llamaStyle {
            let (tokenizer, entry) = try tokenizer(name)
            let goldens = try XCTUnwrap(entry.templates["vicuna_v1"])
            XCTAssertEqual(goldens.count, Self.conversations.count)
            let legacy = tokenizer.isLegacy
            let t = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: legacy, padTokenId: entry.padId)
            let other = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: !legacy, padTokenId: entry.padId)
            for conversation in Self.conversations {
                let golden = try XCTUnwrap(goldens[conversation.id])
                if let d = difference(tokenizer, run(t, conversation), ids: golden.ids, supervised: golden.supervised,
                                      mismatch: golden.mismatch ?? false) {
                    XCTFail("\(name) vicuna_v1 \(conversation.id) (legacy \(legacy)): \(d)")
                }
                // The opposite flag: LLaVA's "tokenization mismatch" on every multi-round sample.
                let o = try XCTUnwrap(golden.otherLegacy)
                if let d = difference(tokenizer, run(other, conversation), ids: golden.ids, supervised: o.supervised,
                                      mismatch: o.mismatch ?? false) {
                    XCTFail("\(name) vicuna_v1 \(conversation.id) (legacy \(!legacy)): \(d)")
                }
            }
            // Which samples LLaVA itself gives up on ("tokenization mismatch", every label −100):
            // an empty last reply ("ASSISTANT:" without "</s>"), an empty human turn ("USER:ASSISTANT:"),
            // "</s>" or " ASSISTANT: " inside a message, and a literal "<unk>" (LLaVA's pad id).
            XCTAssertEqual(Set(goldens.filter { $0.value.mismatch == true }.keys),
                           ["img_empty_reply", "text_empty_human", "img_eos_in_human", "img_assistant_in_human",
                            "text_unk_literal", "text_eos_in_reply"], name)
            // With the other flag, every sample of more than one round is lost as well.
            let multiRound = Self.conversations.filter { c in
                c.turns.filter { $0.role == .assistant && !$0.value.isEmpty }.count > 1
            }
            for c in multiRound where goldens[c.id]?.mismatch == false {
                XCTAssertEqual(goldens[c.id]?.otherLegacy?.mismatch, true, "\(name) \(c.id)")
            }
        }
    }

    func testChatmlMatchesLoomsDocumentedRule() throws {
        let (tokenizer, entry) = try tokenizer("qwen2_split")
        let goldens = try XCTUnwrap(entry.templates["chatml"])
        XCTAssertEqual(goldens.count, Self.conversations.count)
        let t = ConversationTokenizer(template: .chatml, tokenizer: tokenizer, placeholders: [.image], padTokenId: entry.padId)
        for conversation in Self.conversations {
            let golden = try XCTUnwrap(goldens[conversation.id])
            if let d = difference(tokenizer, run(t, conversation), ids: golden.ids, supervised: golden.supervised, mismatch: false) {
                XCTFail("qwen2_split chatml \(conversation.id): \(d)")
            }
        }
    }

    /// LLaVA-NeXT's `preprocess_qwen` supervises more than Loom's chatml: the whole assistant turn
    /// including its "<|im_start|>assistant\n" header, and every <|im_start|>, <|im_end|> and "\n"
    /// token anywhere (system and user turns included). Loom supervises only what the assistant must
    /// produce: its content, "<|im_end|>" and the "\n" after it. Where the ids agree, this checks that
    /// Loom's supervised tokens are a subset of LLaVA-NeXT's and that every extra one is of those kinds.
    func testChatmlDifferenceFromLLaVANeXTIsOnlyStructuralTokens() throws {
        let (tokenizer, entry) = try tokenizer("qwen2_split")
        let goldens = try XCTUnwrap(entry.templates["chatml"])
        let imStart = try XCTUnwrap(tokenizer.tokenToId("<|im_start|>"))
        let imEnd = try XCTUnwrap(tokenizer.tokenToId("<|im_end|>"))
        let newline = try XCTUnwrap(tokenizer.tokenToId("Ċ"))
        let header = tokenizer.encode("assistant\n", addSpecialTokens: false)
        var differentIds: Set<String> = []
        for (id, golden) in goldens {
            guard let next = golden.llavaNext else {
                XCTAssertTrue(id.hasSuffix("system"), id)  // LLaVA-NeXT has no "system" role in data
                continue
            }
            guard next.ids == golden.ids else { differentIds.insert(id); continue }
            let loom = labels(golden.ids, golden.supervised), theirs = labels(next.ids, next.supervised)
            for i in golden.ids.indices where loom[i] != theirs[i] {
                XCTAssertEqual(loom[i], TokenizedSample.ignoreIndex, "\(id) \(i): Loom supervises a token LLaVA-NeXT does not")
                let token = golden.ids[i]
                if [imStart, imEnd, newline].contains(token) { continue }
                let start = try XCTUnwrap(golden.ids[..<i].lastIndex(of: imStart), "\(id) \(i)")
                XCTAssertTrue(i - start <= header.count && Array(golden.ids[(start + 1)...].prefix(header.count)) == header,
                              "\(id) \(i): extra supervised token \(tokenizer.idToToken(token) ?? "?") outside an assistant header")
            }
        }
        // Where the ids themselves differ: LLaVA-NeXT leaves a value that already starts with <image>
        // as it is (LLaVA-1.5 and Loom always write "<image>\n" + the stripped rest), and it encodes
        // "<|im_start|>assistant\n" + content as one text, so a reply starting with "\n" merges with
        // the header's newline (Loom encodes the header apart, as LLaVA-NeXT's older version did).
        XCTAssertEqual(differentIds, ["img_no_newline", "img_crlf", "img_combining_after",
                                      "img_reply_leading_newline", "text_only_newline_reply"])
    }

    // MARK: LLaVA details

    /// tokenizer_image_token keeps one BOS when the prompt starts with the placeholder, and the text
    /// after the placeholder is encoded on its own (its BOS dropped).
    func testBOSWhenThePlaceholderStartsThePrompt() throws {
        for name in Self.llamaStyle {
            let (tokenizer, entry) = try tokenizer(name)
            let bos = try XCTUnwrap(entry.bosId)
            XCTAssertEqual(tokenizer.encodeWithPlaceholders("<image>", placeholders: [.image]), [bos, -200], name)
            let rest = tokenizer.encode("\nDescribe the image.", addSpecialTokens: true)
            XCTAssertEqual(rest.first, bos)
            XCTAssertEqual(tokenizer.encodeWithPlaceholders("<image>\nDescribe the image.", placeholders: [.image]),
                           [bos, -200] + rest.dropFirst(), name)
            // In every plain sample: BOS, the image, then the caption without a second BOS; the first
            // two positions are masked.
            for (id, golden) in try XCTUnwrap(entry.templates["plain"]) {
                XCTAssertEqual(Array(golden.ids.prefix(3)).filter { $0 == bos }.count, 1, "\(name) \(id)")
                XCTAssertEqual(Array(golden.ids.prefix(2)), [bos, -200], "\(name) \(id)")
                XCTAssertEqual(golden.supervised.first?.first, 2, "\(name) \(id)")
            }
            // vicuna_v1 with a placeholder mid-prompt: one BOS at the start only.
            let t = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: tokenizer.isLegacy)
            let sample = try t.tokenize(Self.conversations.first { $0.id == "img_start" }!)
            XCTAssertEqual(sample.ids.filter { $0 == bos }.count, 1, name)
            XCTAssertEqual(sample.ids.first, bos, name)
        }
        // Qwen2 has no BOS: nothing is kept, the prompt starts with the marker.
        let (qwen, _) = try tokenizer("qwen2_split")
        XCTAssertEqual(qwen.encodeWithPlaceholders("<image>", placeholders: [.image]), [-200])
        let plain = ConversationTokenizer(template: .plain, tokenizer: qwen, placeholders: [.image])
        let sample = try plain.tokenize(Self.conversations.first { $0.id == "img_end" }!)
        XCTAssertEqual(sample.ids.first, -200)
        XCTAssertEqual(sample.labels.first, -100)
        XCTAssertNotEqual(sample.labels[1], -100)
    }

    /// preprocess_multimodal writes "<image>\n" + the rest; the chunk after the marker is encoded on its
    /// own, so with SentencePiece-style tokenizers it starts with its own "▁" and then the newline byte.
    func testNewlineAfterThePlaceholder() throws {
        for name in Self.llamaStyle {
            let (tokenizer, _) = try tokenizer(name)
            let t = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: tokenizer.isLegacy)
            for id in ["img_start", "img_end", "img_middle", "img_no_newline", "img_padded", "img_crlf", "img_tabs",
                       "img_unicode_spaces", "img_info_separators", "img_multiline_human"] {
                let sample = try t.tokenize(Self.conversations.first { $0.id == id }!)
                let at = try XCTUnwrap(sample.ids.firstIndex(of: -200))
                // (The newline is the byte piece <0x0A>, or "\n" where the vocabulary has it.)
                let next = sample.ids[(at + 1)...].prefix(2).map { tokenizer.idToToken($0) ?? "?" }
                XCTAssertTrue(next == ["▁", "<0x0A>"] || next == ["▁", "\n"], "\(name) \(id): \(next)")
                XCTAssertEqual(sample.labels[at], -100)
            }
            // "<image>" alone: nothing follows it inside the turn but the " ASSISTANT: " separator.
            let only = try t.tokenize(Self.conversations.first { $0.id == "img_only" }!)
            let at = try XCTUnwrap(only.ids.firstIndex(of: -200))
            XCTAssertTrue(tokenizer.decode(Array(only.ids[(at + 1)...])).trimmingCharacters(in: .whitespaces).hasPrefix("ASSISTANT: a yellow square"), name)
        }
        let (qwen, _) = try tokenizer("qwen2_split")
        let chatml = ConversationTokenizer(template: .chatml, tokenizer: qwen, placeholders: [.image])
        for id in ["img_start", "img_end", "img_middle", "img_no_newline", "img_crlf"] {
            let sample = try chatml.tokenize(Self.conversations.first { $0.id == id }!)
            let at = try XCTUnwrap(sample.ids.firstIndex(of: -200))
            XCTAssertEqual(qwen.idToToken(sample.ids[at + 1]), "Ċ", id)
        }
    }

    /// Every supervised token is reply text or the end marker: each run of supervised labels decodes to
    /// one assistant reply followed by "</s>" (vicuna_v1), "\n" (plain) or "<|im_end|>\n" (chatml).
    /// LLaVA writes an empty reply as "ASSISTANT:" with no "</s>", so it supervises nothing.
    func testSupervisedTokensDecodeToRepliesAndEndMarkers() throws {
        func runs(_ sample: TokenizedSample) -> [[Int]] {
            var out: [[Int]] = [], current: [Int] = []
            for (id, label) in zip(sample.ids, sample.labels) {
                if label == TokenizedSample.ignoreIndex {
                    if !current.isEmpty { out.append(current); current = [] }
                } else {
                    XCTAssertEqual(id, label)
                    current.append(id)
                }
            }
            return current.isEmpty ? out : out + [current]
        }
        func replies(_ c: Conversation) -> [String] {
            var turns = c.turns.filter { $0.role != .system }
            if turns.first?.role != .user { turns.removeFirst() }
            return turns.filter { $0.role == .assistant }.map(\.value)
        }
        // Text around an added token does not round-trip through a legacy SentencePiece tokenizer
        // (each piece gets its own "▁"), so samples that spell special tokens are left out here.
        let spellsSpecials: Set<String> = ["img_special_text", "text_unk_literal", "text_eos_in_reply", "img_eos_in_human"]
        var checked = 0
        for name in Self.llamaStyle {
            let (tokenizer, _) = try tokenizer(name)
            let vicuna = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: tokenizer.isLegacy)
            let plain = ConversationTokenizer(template: .plain, tokenizer: tokenizer, placeholders: [.image])
            for c in Self.conversations where !spellsSpecials.contains(c.id) {
                if let sample = try? vicuna.tokenize(c) {
                    XCTAssertEqual(runs(sample).map { tokenizer.decode($0) }, replies(c).filter { !$0.isEmpty }.map { $0 + "</s>" }, "\(name) \(c.id)")
                    checked += 1
                }
                if let sample = try? plain.tokenize(c), !(name.hasPrefix("smoke_metaspace") && c.id == "img_reply_leading_space") {
                    // (A Metaspace "first" tokenizer writes " a" at the start of a text as "▁a": the
                    // caption's own leading space does not survive encoding.)
                    XCTAssertEqual(runs(sample).map { tokenizer.decode($0) }, replies(c).map { $0 + "\n" }, "\(name) plain \(c.id)")
                }
            }
        }
        XCTAssertEqual(checked, 4 * 37)
        let (qwen, _) = try tokenizer("qwen2_split")
        let chatml = ConversationTokenizer(template: .chatml, tokenizer: qwen, placeholders: [.image])
        for c in Self.conversations {
            let sample = try chatml.tokenize(c)
            XCTAssertEqual(runs(sample).map { qwen.decode($0) }, replies(c).map { $0 + "<|im_end|>\n" }, "chatml \(c.id)")
        }
    }

    /// LLaVA sets pad = unk for v1, so a literal "<unk>" in the text is not counted and the sample is
    /// reported as a tokenization mismatch; with the tokenizer's own pad id (what `loom train` passes)
    /// the same sample is kept and supervised normally.
    func testPadIdDecidesTheUnkLiteralSample() throws {
        let (tokenizer, entry) = try tokenizer("smoke")
        let c = Self.conversations.first { $0.id == "text_unk_literal" }!
        XCTAssertEqual(entry.padId, tokenizer.unkTokenId)
        let llava = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: tokenizer.isLegacy, padTokenId: entry.padId)
        XCTAssertThrowsError(try llava.tokenize(c)) { XCTAssertEqual(($0 as? SampleError)?.kind, .tokenizationMismatch) }
        XCTAssertNotEqual(tokenizer.padTokenId, tokenizer.unkTokenId)
        let own = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], legacy: tokenizer.isLegacy, padTokenId: tokenizer.padTokenId)
        let sample = try own.tokenize(c)
        XCTAssertEqual(tokenizer.decode(sample.ids.enumerated().filter { sample.labels[$0.offset] != -100 }.map(\.element)), "An unknown token.</s>")
    }
}
