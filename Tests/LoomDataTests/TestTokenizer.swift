@testable import LoomData

/// A SentencePiece-like word tokenizer for tests: BOS 1, EOS "</s>" 2; each space-separated word is
/// one piece "▁word", an empty word (trailing or doubled space) is "▁", "\n" is its own piece.
final class WordTokenizer: TextEncoder {
    private(set) var vocabulary: [String: Int] = ["<s>": 1, "</s>": 2, "<pad>": 0]
    private(set) var pieces: [Int: String] = [1: "<s>", 2: "</s>", 0: "<pad>"]

    func id(_ piece: String) -> Int {
        if let id = vocabulary[piece] { return id }
        let id = vocabulary.count + 10
        vocabulary[piece] = id
        pieces[id] = piece
        return id
    }

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = addSpecialTokens ? [1] : []
        let chunks = text.components(separatedBy: "</s>")
        for (i, chunk) in chunks.enumerated() {
            if i > 0 { ids.append(2) }
            if chunk.isEmpty { continue }
            for (j, line) in chunk.components(separatedBy: "\n").enumerated() {
                if j > 0 { ids.append(id("\n")) }
                if line.isEmpty { continue }
                for word in line.components(separatedBy: " ") { ids.append(id("▁" + word)) }
            }
        }
        return ids
    }

    func decode(_ ids: [Int]) -> [String] { ids.map { $0 < 0 ? "<\($0)>" : pieces[$0] ?? "?" } }
}
