extension Tokenizer {
    /// LLaVA's `tokenizer_image_token` (mm_utils.py): the prompt is split on the literal `placeholder`,
    /// every chunk is encoded on its own with special tokens (so each gets its own BOS and, for
    /// SentencePiece-style tokenizers, its own leading "▁"), and the chunks are joined with one
    /// `placeholderId` each. When the first chunk starts with `bosTokenId`, one BOS is kept at the
    /// front and the first id of every chunk is dropped (whatever it is), as the reference does.
    public func encodeImagePrompt(_ prompt: String, placeholder: String = "<image>", placeholderId: Int = -200) -> [Int] {
        let chunks = Tokenizer.split(prompt, on: placeholder).map { encode($0) }
        var ids: [Int] = []
        var offset = 0
        if let first = chunks.first?.first, first == bosTokenId {
            offset = 1
            ids.append(first)
        }
        for (index, chunk) in chunks.enumerated() {
            if index > 0 { ids.append(placeholderId) }
            ids.append(contentsOf: chunk.dropFirst(offset))
        }
        return ids
    }

    /// Python's `str.split(separator)`: literal, left to right, empty pieces kept.
    static func split(_ text: String, on separator: String) -> [String] {
        let bytes = Array(text.utf8), needle = Array(separator.utf8)
        guard !needle.isEmpty else { return [text] }
        var pieces: [String] = []
        var start = 0, i = 0
        while i + needle.count <= bytes.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) {
                pieces.append(String(decoding: bytes[start..<i], as: UTF8.self))
                i += needle.count
                start = i
            } else {
                i += 1
            }
        }
        pieces.append(String(decoding: bytes[start...], as: UTF8.self))
        return pieces
    }
}
