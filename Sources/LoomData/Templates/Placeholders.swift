/// What templates need from a tokenizer: ids for a piece of text, with or without the special tokens
/// (BOS/EOS) its post-processor adds.
public protocol TextEncoder {
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
}

/// A modality's placeholder in conversation text (`<image>`) and the negative marker id that stands
/// for it in token sequences until the batch expands it to the modality's feature count (LLaVA uses
/// −200 for images).
public struct Placeholder: Equatable, Sendable {
    public var modality: String
    public var text: String
    public var marker: Int

    public init(modality: String, text: String, marker: Int) {
        precondition(marker < 0, "placeholder markers are negative ids, got \(marker)")
        self.modality = modality
        self.text = text
        self.marker = marker
    }

    public static let image = Placeholder(modality: "image", text: "<image>", marker: -200)
    public static let audio = Placeholder(modality: "audio", text: "<audio>", marker: -201)

    /// Placeholders Loom recognises even when their modality is not enabled, so that a sample using
    /// one is reported instead of being tokenized as text.
    public static let known = ["<image>", "<audio>", "<video>"]
}

extension TextEncoder {
    /// LLaVA's `tokenizer_image_token`, for any placeholders: the text between placeholders is encoded
    /// chunk by chunk (each with the tokenizer's special tokens), one BOS is kept at the start, and
    /// each placeholder becomes its marker id. Placeholders are found as Python's `str.split` finds
    /// them (on code points: "<image>" followed by a combining mark still counts).
    /// With `addSpecialTokens` false, chunks are encoded bare and no BOS is kept.
    public func encodeWithPlaceholders(_ text: String, placeholders: [Placeholder], addSpecialTokens: Bool = true) -> [Int] {
        // Every occurrence of every placeholder, leftmost first (the earlier placeholder on a tie).
        var found: [(offset: Int, order: Int, placeholder: Placeholder)] = []
        for (order, placeholder) in placeholders.enumerated() {
            found += PythonText.occurrences(of: placeholder.text, in: text).map { ($0, order, placeholder) }
        }
        found.sort { ($0.offset, $0.order) < ($1.offset, $1.order) }
        let bytes = Array(text.utf8)
        var chunks: [String] = []
        var markers: [Int] = []
        var start = 0
        for match in found where match.offset >= start {
            chunks.append(String(decoding: bytes[start..<match.offset], as: UTF8.self))
            markers.append(match.placeholder.marker)
            start = match.offset + match.placeholder.text.utf8.count
        }
        chunks.append(String(decoding: bytes[start...], as: UTF8.self))
        let encoded = chunks.map { encode($0, addSpecialTokens: addSpecialTokens) }
        let bos = addSpecialTokens ? encode("", addSpecialTokens: true).first : nil
        var ids: [Int] = []
        var offset = 0
        if let first = encoded.first?.first, let bos, first == bos {
            offset = 1
            ids.append(bos)
        }
        for (index, chunk) in encoded.enumerated() {
            if index > 0 { ids.append(markers[index - 1]) }
            ids += chunk.dropFirst(min(offset, chunk.count))
        }
        return ids
    }
}
