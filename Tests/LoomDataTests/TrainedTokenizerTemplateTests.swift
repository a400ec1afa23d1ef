import Foundation
import XCTest
import LoomTokenizer
@testable import LoomData

/// A tokenizer trained by Loom (`loom train-tokenizer`: byte-level BPE, "<s>" before every sequence,
/// "</s>" and "<pad>" special) through the LLaVA templates: its legacy flag is decided the way LLaVA's
/// vicuna_v1 arithmetic needs it, and every supervised run is exactly a reply and its end marker.
final class TrainedTokenizerTemplateTests: XCTestCase {
    /// Trained on the text of the template fixtures' conversations and the vicuna system prompt.
    static let folder: URL = {
        var lines = [ChatTemplate.vicunaSystem, ChatTemplate.chatmlSystem]
        for conversation in TemplateParityTests.conversations {
            for turn in conversation.turns { lines += turn.value.split(separator: "\n").map(String.init) }
        }
        let trainer = try! BPETrainer(options: BPETrainingOptions(vocabularySize: 500))
        trainer.add(contentsOf: lines)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loom-trained-template-\(UUID().uuidString)")
        try! trainer.train().write(to: folder)
        return folder
    }()

    static let tokenizer: Tokenizer = try! Tokenizer(directory: folder)

    override class func tearDown() {
        try? FileManager.default.removeItem(at: folder)
        super.tearDown()
    }

    /// Samples LLaVA's preprocess_v1 rejects as a "tokenization mismatch" with this tokenizer: an
    /// empty reply or human turn, "</s>" or " ASSISTANT: " typed inside a turn (as with every
    /// tokenizer), and a reply that types "<pad>" (the pad id is left out of LLaVA's count).
    static let llavaMismatches: Set<String> = ["img_empty_reply", "img_eos_in_human", "img_assistant_in_human",
                                               "text_empty_human", "text_eos_in_reply", "img_special_text"]

    func testSpecialTokensAndLegacyFlag() {
        let tokenizer = Self.tokenizer
        XCTAssertEqual(tokenizer.bosTokenId, 0)
        XCTAssertEqual(tokenizer.eosTokenId, 1)
        XCTAssertEqual(tokenizer.padTokenId, 2)
        XCTAssertNil(tokenizer.unkTokenId)
        // No prefix space: "USER" encodes the same at the start of a text and after "</s>".
        XCTAssertEqual(Array(tokenizer.encode("</s>USER", addSpecialTokens: false).dropFirst()),
                       tokenizer.encode("USER", addSpecialTokens: false))
        XCTAssertTrue(tokenizer.isLegacy)
        // tokenizer_image_token keeps one BOS: every chunk starts with it.
        XCTAssertEqual(tokenizer.encode(""), [0])
        XCTAssertEqual(tokenizer.encodeWithPlaceholders("a <image> b", placeholders: [.image]).filter { $0 == 0 }, [0])
    }

    func testVicunaLabelsAddUpAndSuperviseExactlyTheReplies() throws {
        let tokenizer = Self.tokenizer
        let vicuna = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image],
                                           legacy: tokenizer.isLegacy, padTokenId: tokenizer.padTokenId)
        var mismatches: Set<String> = []
        for conversation in TemplateParityTests.conversations {
            do {
                let sample = try vicuna.tokenize(conversation)
                // Byte-level BPE keeps a word's leading space in its token, so the space of "ASSISTANT: "
                // belongs to the reply's first token and is supervised with it (LLaVA's arithmetic
                // masks "ASSISTANT:" and the BOS of the standalone instruction: length − 2).
                XCTAssertEqual(supervisedRuns(sample).map { tokenizer.decode($0) },
                               replies(conversation).filter { !$0.isEmpty }.map { " " + $0 + "</s>" }, conversation.id)
                XCTAssertEqual(sample.ids.filter { $0 == 0 }, [0], conversation.id)
            } catch let error as SampleError where error.kind == .tokenizationMismatch {
                mismatches.insert(conversation.id)
            }
        }
        XCTAssertEqual(mismatches, Self.llavaMismatches)
    }

    func testPlainSupervisesTheCaptionAndItsNewline() throws {
        let tokenizer = Self.tokenizer
        let plain = ConversationTokenizer(template: .plain, tokenizer: tokenizer, placeholders: [.image])
        var checked = 0
        for conversation in TemplateParityTests.conversations {
            guard let sample = try? plain.tokenize(conversation) else { continue }
            XCTAssertEqual(supervisedRuns(sample).map { tokenizer.decode($0) }, replies(conversation).map { $0 + "\n" }, conversation.id)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 10)
    }

    /// The runs of supervised ids, in order.
    func supervisedRuns(_ sample: TokenizedSample) -> [[Int]] {
        var runs: [[Int]] = [], current: [Int] = []
        for (id, label) in zip(sample.ids, sample.labels) {
            if label == TokenizedSample.ignoreIndex {
                if !current.isEmpty { runs.append(current); current = [] }
            } else {
                current.append(id)
            }
        }
        return current.isEmpty ? runs : runs + [current]
    }

    /// The assistant replies LLaVA keeps (a leading non-human turn is dropped).
    func replies(_ conversation: Conversation) -> [String] {
        var turns = conversation.turns.filter { $0.role != .system }
        if turns.first?.role != .user { turns.removeFirst() }
        return turns.filter { $0.role == .assistant }.map(\.value)
    }
}
