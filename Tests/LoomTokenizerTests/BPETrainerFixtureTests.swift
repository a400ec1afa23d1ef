import Foundation
import XCTest
@testable import LoomTokenizer

/// The tokenizer Loom trains on Fixtures/trained_bpe/corpus.txt, against the committed folder and the
/// ids tokenizers and transformers give for it (tools/fixtures/make_trained_tokenizer_fixture.py).
final class BPETrainerFixtureTests: XCTestCase {
    /// The options the fixture was trained with (the script's docstring gives the same command line).
    static let options = BPETrainingOptions(vocabularySize: 400, minimumFrequency: 2, extraSpecialTokens: ["<image>"])

    static let folder = TokenizerFixture.url("trained_bpe")

    static func retrained() throws -> TrainedBPE {
        let trainer = try BPETrainer(options: options)
        try trainer.addLines(of: Data(contentsOf: folder.appendingPathComponent("corpus.txt")), source: "corpus.txt")
        return trainer.train()
    }

    func testRetrainingGivesTheCommittedFilesByteForByte() throws {
        let trained = try Self.retrained()
        XCTAssertEqual(trained.tokens.count, 400)
        let files = [(TrainedBPE.tokenizerFileName, trained.tokenizerJSON()),
                     (TrainedBPE.configurationFileName, trained.configurationJSON()),
                     (TrainedBPE.specialTokensMapFileName, trained.specialTokensMapJSON())]
        for (name, text) in files {
            let committed = try Data(contentsOf: Self.folder.appendingPathComponent(name))
            XCTAssertEqual(Array(text.utf8), [UInt8](committed), "\(name) differs from the committed fixture")
        }
    }

    func testIdsMatchTokenizersAndTransformers() throws {
        let tokenizer = try Tokenizer(directory: Self.folder)
        XCTAssertEqual(tokenizer.bosTokenId, 0)
        XCTAssertEqual(tokenizer.eosTokenId, 1)
        XCTAssertEqual(tokenizer.padTokenId, 2)
        XCTAssertNil(tokenizer.unkTokenId)
        XCTAssertEqual(tokenizer.tokenToId("<image>"), 3)
        XCTAssertEqual(tokenizer.vocabularySize, 400)

        let goldens = try TokenizerFixture.json("trained_bpe/goldens.json") as! [String: Any]
        let lines = goldens["lines"] as! [[String: Any]]
        XCTAssertEqual(lines.count, 50)
        for line in lines {
            let text = line["text"] as! String
            let ids = tokenizer.encode(text)
            XCTAssertEqual(ids, line["ids"] as! [Int], shown(text))
            XCTAssertEqual(scalars(tokenizer.decode(ids)), scalars("<s>" + text), shown(text))
        }
        let pairs = goldens["pairs"] as! [[String: Any]]
        XCTAssertEqual(pairs.count, 3)
        for pair in pairs {
            let a = pair["a"] as! String, b = pair["b"] as! String
            XCTAssertEqual(tokenizer.encode(a, pair: b), pair["ids"] as! [Int], shown(a + " | " + b))
        }
    }
}
