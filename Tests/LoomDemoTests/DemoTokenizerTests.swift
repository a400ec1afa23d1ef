import Foundation
import LoomTokenizer
import LoomWorld
import XCTest

/// The committed demo language model's tokenizer reads the grid notation as the connectors need it:
/// one token per word, and a grid after "USER: " takes the positions an image's tokens take.
final class DemoTokenizerTests: XCTestCase {
    func testGridWordsAreSingleTokensAlignedWithImageSlots() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let tokenizer = try Tokenizer(directory: repo.appendingPathComponent("checkpoints/demo-language-model"))
        for word in GridNotation.vocabulary {
            XCTAssertEqual(tokenizer.encode(" " + word, addSpecialTokens: false).count, 1, word)
        }
        // "USER: " before a placeholder ends in a token of its own (a lone space); the pretraining
        // grid's leading space makes the same token, so the 48 words follow it as the image's
        // 16 × 3 tokens would.
        let prefix = tokenizer.encode("USER: ", addSpecialTokens: false)
        let cells = Array(repeating: GridNotation.emptyCell, count: 45) + ["large", "red", "circle"]
        let grid = tokenizer.encode("USER:  " + cells.joined(separator: " ") + "\nwhat", addSpecialTokens: false)
        XCTAssertEqual(Array(grid.prefix(prefix.count)), prefix)
        XCTAssertEqual(grid.count, prefix.count + 48 + 2)
        XCTAssertEqual(grid.suffix(2), tokenizer.encode("\nwhat", addSpecialTokens: false)[...])
    }
}
