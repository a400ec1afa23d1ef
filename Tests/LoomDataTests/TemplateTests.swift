import XCTest
@testable import LoomData

final class TemplateTests: XCTestCase {
    let tokenizer = WordTokenizer()

    func conversation(_ turns: [(String, String)], media: [String: [String]] = ["image": ["a.jpg"]]) -> Conversation {
        Conversation(id: "s", media: media, turns: turns.map { Conversation.Turn(from: $0.0, value: $0.1) })
    }

    func supervised(_ sample: TokenizedSample) -> [String] {
        tokenizer.decode(zip(sample.ids, sample.labels).filter { $0.1 != -100 }.map(\.0))
    }

    func testPlainSupervisesTheCaptionAndItsNewline() throws {
        let t = ConversationTokenizer(template: .plain, tokenizer: tokenizer, placeholders: [.image])
        let sample = try t.tokenize(conversation([("human", "Describe <image> briefly"), ("gpt", "a red square")]))
        XCTAssertEqual(tokenizer.decode(sample.ids), ["<s>", "<-200>", "▁a", "▁red", "▁square", "\n"])
        XCTAssertEqual(supervised(sample), ["▁a", "▁red", "▁square", "\n"])
    }

    func testVicunaSupervisesOnlyRepliesAndTheirEndToken() throws {
        let t = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image], systemPrompt: "SYS")
        let sample = try t.tokenize(conversation([("human", "What is it? <image>"), ("gpt", "A cat."),
                                                  ("human", "Color?"), ("gpt", "Black.")]))
        // "SYS USER: <image>\nWhat is it? ASSISTANT: A cat.</s>USER: Color? ASSISTANT: Black.</s>"
        XCTAssertEqual(tokenizer.decode(sample.ids).prefix(5), ["<s>", "▁SYS", "▁USER:", "▁", "<-200>"])
        XCTAssertEqual(supervised(sample), ["▁A", "▁cat.", "</s>", "▁Black.", "</s>"])
    }

    func testChatmlSupervisesAssistantContentEndAndNewline() throws {
        let t = ConversationTokenizer(template: .chatml, tokenizer: tokenizer, placeholders: [.image], systemPrompt: "S")
        let sample = try t.tokenize(conversation([("human", "<image> hi"), ("gpt", "yes")]))
        XCTAssertEqual(supervised(sample), ["▁yes<|im_end|>", "\n"])
        XCTAssertEqual(sample.ids.first, 1)
        XCTAssertTrue(sample.ids.contains(-200))
    }

    func testBadSamplesAreReportedByKind() {
        let t = ConversationTokenizer(template: .vicunaV1, tokenizer: tokenizer, placeholders: [.image])
        func kind(_ c: Conversation) -> SampleError.Kind? {
            do { _ = try t.tokenize(c); return nil } catch let e as SampleError { return e.kind } catch { return nil }
        }
        XCTAssertEqual(kind(conversation([])), .emptyConversation)
        XCTAssertEqual(kind(conversation([("human", "  "), ("gpt", "")])), .emptyConversation)
        XCTAssertEqual(kind(conversation([("human", "<image> <image> two?"), ("gpt", "x")])), .placeholderCount)
        XCTAssertEqual(kind(conversation([("human", "no image"), ("gpt", "x")])), .placeholderCount)
        XCTAssertEqual(kind(conversation([("human", "<audio> <image>"), ("gpt", "x")])), .unknownPlaceholder)
        XCTAssertEqual(kind(conversation([("human", "<image> a"), ("human", "b")])), .badRoles)
        XCTAssertEqual(kind(conversation([("human", "<image> a"), ("robot", "b")])), .badRoles)
        XCTAssertEqual(kind(conversation([("human", "<image> q")])), .noSupervisedTokens)
        let plain = ConversationTokenizer(template: .plain, tokenizer: tokenizer, placeholders: [.image])
        XCTAssertThrowsError(try plain.tokenize(conversation([("human", "<image>"), ("gpt", "a"), ("human", "b"), ("gpt", "c")])))
    }
}
