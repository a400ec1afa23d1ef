import Foundation

/// A Hugging Face tokenizer.json (BPE models), giving the same ids as the tokenizers library's
/// `Tokenizer.encode(text).ids` and the same text as its `decode`.
///
/// The pipeline, as tokenizers runs it:
/// 1. the raw text is split on added tokens with `normalized: false` (leftmost-longest; `single_word`,
///    `lstrip`, `rstrip` honoured);
/// 2. each remaining piece is normalized, then split on added tokens with `normalized: true`;
/// 3. the pre-tokenizer cuts pieces into words;
/// 4. the BPE model turns each word into ids;
/// 5. the post-processor adds special tokens (when `addSpecialTokens`).
///
/// Supported components:
/// - model: BPE (`merges` as "a b" strings or ["a", "b"] pairs, `ignore_merges`, `byte_fallback`,
///   `fuse_unk`, `unk_token`, `continuing_subword_prefix`, `end_of_word_suffix`; `dropout` null or 0);
/// - normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Prepend, Replace (string or
///   regex), Nmt, Sequence;
/// - pre-tokenizers: ByteLevel, Split (string or regex; the GPT-2, LLaMA-3 and Qwen2 regexes run as
///   hand scanners, others through ICU), Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit,
///   BertPreTokenizer, CharDelimiterSplit, Sequence;
/// - post-processors: TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence;
/// - decoders: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, BPEDecoder, WordPiece, Sequence.
/// `truncation` and `padding` in the file are ignored (Loom truncates and pads in its collator).
///
/// Encoding is thread-safe; each thread borrows its own scratch buffers and word cache.
public final class Tokenizer: @unchecked Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: BPEModel
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let addedVocabulary: AddedVocabulary

    /// tokenizer_config.json, when one was read.
    public let configuration: TokenizerConfiguration?
    /// The beginning-of-sequence id: tokenizer_config.json's `bos_token` when the file has that key
    /// (null there means none), else the special token the post-processor puts first in a single
    /// sequence (`<s>` of `<s> $A`, RoBERTa's / BERT's cls), else nil.
    public let bosTokenId: Int?
    /// tokenizer_config.json's `eos_token`; else the special token the post-processor puts last
    /// (`</s>` of `<s> $A </s>`, sep); else the first special added token named `</s>`,
    /// `<|endoftext|>`, `<|end_of_text|>` or `<eos>`.
    public let eosTokenId: Int?
    /// tokenizer_config.json's `pad_token`; else a special added token named `<pad>`, `[PAD]` or `<|pad|>`.
    public let padTokenId: Int?
    /// tokenizer_config.json's `unk_token`; else the model's `unk_token`.
    public let unkTokenId: Int?

    private var workspaces: [EncodingWorkspace] = []
    private let workspaceLock = NSLock()

    /// Loads `tokenizer.json` and, if present, `tokenizer_config.json` from a folder.
    public convenience init(directory: URL) throws {
        let json = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: json.path) else {
            throw TokenizerError(file: json.path, key: "", "no tokenizer.json in \(directory.path)")
        }
        let config = directory.appendingPathComponent("tokenizer_config.json")
        try self.init(tokenizerJSON: json,
                      configuration: FileManager.default.fileExists(atPath: config.path) ? config : nil)
    }

    /// Loads a tokenizer.json, optionally with a tokenizer_config.json for the special token names.
    public init(tokenizerJSON url: URL, configuration configurationURL: URL? = nil) throws {
        let root = try JSONNode.load(url)
        if let version = try root.optionalNonNull("version"), try version.string() != "1.0" {
            throw version.error("unknown tokenizer.json version '\(try version.string())' (expected 1.0)")
        }
        normalizer = try root.optionalNonNull("normalizer").map(ComponentLoading.normalizer)
        preTokenizer = try root.optionalNonNull("pre_tokenizer").map(ComponentLoading.preTokenizer)
        postProcessor = try root.optionalNonNull("post_processor").map(ComponentLoading.postProcessor)
        decoder = try root.optionalNonNull("decoder").map(ComponentLoading.decoder)
        let model = try ComponentLoading.model(root.required("model"))
        let added = try root.optionalNonNull("added_tokens")?.array().map(ComponentLoading.addedToken) ?? []
        let addedVocabulary = AddedVocabulary(added, model: model, normalizer: normalizer)
        self.model = model
        self.addedVocabulary = addedVocabulary

        let configuration = try configurationURL.map(TokenizerConfiguration.load)
        self.configuration = configuration
        func id(_ token: String) -> Int? { addedVocabulary.ids[Array(token.utf8)] ?? model.id(of: token) }
        func configured(_ name: String?) -> Int?? {
            guard let name else { return nil }  // key absent: fall back
            return .some(name.isEmpty ? nil : id(name))
        }
        func specialNamed(_ names: [String]) -> Int? {
            names.lazy.compactMap { name in
                addedVocabulary.specialContents.contains(Array(name.utf8)) ? id(name) : nil
            }.first
        }
        let processorSpecials: (first: Int32?, last: Int32?) = postProcessor?.singleSequenceSpecials ?? (nil, nil)
        bosTokenId = configured(configuration?.bosToken) ?? processorSpecials.first.map(Int.init)
        eosTokenId = configured(configuration?.eosToken)
            ?? (processorSpecials.last.map(Int.init) ?? specialNamed(["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"]))
        padTokenId = configured(configuration?.padToken) ?? specialNamed(["<pad>", "[PAD]", "<|pad|>"])
        unkTokenId = configured(configuration?.unkToken) ?? model.options.unknownToken.flatMap(id)
    }

    // MARK: Vocabulary

    /// The number of distinct tokens, added tokens included (tokenizers' `get_vocab_size(True)`,
    /// transformers' `len(tokenizer)`).
    public var vocabularySize: Int {
        let overlapping = addedVocabulary.ids.keys.filter { model.vocabulary.lookup($0) != nil }.count
        return model.vocabularyCount + addedVocabulary.ids.count - overlapping
    }

    /// The id of a token (added tokens first, then the model vocabulary).
    public func tokenToId(_ token: String) -> Int? {
        addedVocabulary.ids[Array(token.utf8)] ?? model.id(of: token)
    }

    /// The token of an id (a normalized added token shows its normalized form, as in tokenizers).
    public func idToToken(_ id: Int) -> String? {
        addedVocabulary.text(of: id) ?? model.tokens[id]
    }

    /// The added tokens by id.
    public var addedTokens: [Int: AddedToken] { addedVocabulary.tokens }

    public func isSpecialToken(_ id: Int) -> Bool { addedVocabulary.tokens[id]?.isSpecial ?? false }

    // MARK: Encoding

    /// The ids of `text`, with the post-processor's special tokens when `addSpecialTokens`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        withWorkspace { workspace in
            var ids: [Int32] = []
            encodeSequence(text, into: &ids, workspace)
            if let postProcessor { ids = postProcessor.processed(ids, nil, addsSpecialTokens: addSpecialTokens) }
            return ids.map(Int.init)
        }
    }

    /// The ids `word` has inside a sentence, after a space: "a word" less the ids of "a" (so a
    /// byte-level BPE's "Ġword" and a SentencePiece "▁word" alike), or " word" when that prefix does
    /// not tokenize apart.
    public func idsInSentence(word: String) -> [Int] {
        let prefix = encode("a", addSpecialTokens: false), sentence = encode("a " + word, addSpecialTokens: false)
        guard sentence.count > prefix.count, Array(sentence.prefix(prefix.count)) == prefix else {
            return encode(" " + word, addSpecialTokens: false)
        }
        return Array(sentence.dropFirst(prefix.count))
    }

    /// The ids of a pair of sequences (the post-processor's pair template).
    public func encode(_ text: String, pair: String, addSpecialTokens: Bool = true) -> [Int] {
        withWorkspace { workspace in
            var a: [Int32] = [], b: [Int32] = []
            encodeSequence(text, into: &a, workspace)
            encodeSequence(pair, into: &b, workspace)
            guard let postProcessor else { return (a + b).map(Int.init) }
            return postProcessor.processed(a, b, addsSpecialTokens: addSpecialTokens).map(Int.init)
        }
    }

    /// `encode` of every text, spread over `threads` threads (default: all cores).
    public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = true, threads: Int? = nil) -> [[Int]] {
        var results = [[Int]](repeating: [], count: texts.count)
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, texts.count))
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var i = worker
                while i < texts.count {
                    out[i] = encode(texts[i], addSpecialTokens: addSpecialTokens)
                    i += workers
                }
            }
        }
        return results
    }

    /// Steps 1–4 of the pipeline for one sequence.
    private func encodeSequence(_ text: String, into ids: inout [Int32], _ w: EncodingWorkspace) {
        var text = text
        w.list.removeAll()
        w.splits.removeAll(keepingCapacity: true)
        text.withUTF8 { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            if let matcher = addedVocabulary.rawMatcher {
                addedVocabulary.appendSplits(p, 0, buffer.count, matcher: matcher, into: &w.splits)
            } else if buffer.count > 0 {
                w.splits.append((Span(start: 0, end: buffer.count), -1))
            }
            for (span, token) in w.splits {
                if token >= 0 {
                    w.list.pieces.append(Piece(span: Span(start: 0, end: 0), token: token))
                } else if !span.isEmpty {
                    appendNormalized(p + span.start, span.end - span.start, atOrigin: span.start == 0, w)
                }
            }
        }
        preTokenizer?.apply(&w.list, &w.scratch)
        w.list.bytes.withUnsafeBufferPointer { buffer in
            let p = buffer.baseAddress ?? emptyBytes
            for piece in w.list.pieces {
                if piece.token >= 0 {
                    ids.append(piece.token)
                } else {
                    model.appendIds(p + piece.span.start, piece.span.end - piece.span.start,
                                    isByteLevel: piece.isByteLevel, to: &ids, workspace: w.bpe)
                }
            }
        }
    }

    /// Step 2 for one piece of raw text: normalize, split on normalized added tokens, append.
    private func appendNormalized(_ p: UnsafePointer<UInt8>, _ count: Int, atOrigin: Bool, _ w: EncodingWorkspace) {
        guard normalizer != nil || addedVocabulary.normalizedMatcher != nil else {
            let start = w.list.bytes.count
            w.list.bytes.append(contentsOf: UnsafeBufferPointer(start: p, count: count))
            w.list.pieces.append(Piece(span: Span(start: start, end: start + count), startsAtOrigin: atOrigin))
            return
        }
        w.normalized.removeAll(keepingCapacity: true)
        w.normalized.append(contentsOf: UnsafeBufferPointer(start: p, count: count))
        let keepsStart = normalizer?.normalize(&w.normalized) ?? true
        let origin = atOrigin && keepsStart
        w.subSplits.removeAll(keepingCapacity: true)
        w.normalized.withUnsafeBufferPointer { buffer in
            let q = buffer.baseAddress ?? emptyBytes
            if let matcher = addedVocabulary.normalizedMatcher {
                addedVocabulary.appendSplits(q, 0, buffer.count, matcher: matcher, into: &w.subSplits)
            } else {
                w.subSplits.append((Span(start: 0, end: buffer.count), -1))
            }
            for (span, token) in w.subSplits {
                if token >= 0 {
                    w.list.pieces.append(Piece(span: Span(start: 0, end: 0), token: token))
                } else if !span.isEmpty {
                    let start = w.list.bytes.count
                    w.list.bytes.append(contentsOf: UnsafeBufferPointer(start: q + span.start, count: span.end - span.start))
                    w.list.pieces.append(Piece(span: Span(start: start, end: w.list.bytes.count),
                                               startsAtOrigin: origin && span.start == 0))
                }
            }
        }
    }

    private func withWorkspace<R>(_ body: (EncodingWorkspace) -> R) -> R {
        workspaceLock.lock()
        let workspace = workspaces.popLast() ?? EncodingWorkspace()
        workspaceLock.unlock()
        defer {
            workspaceLock.lock()
            workspaces.append(workspace)
            workspaceLock.unlock()
        }
        return body(workspace)
    }

    // MARK: Decoding

    /// The text of `ids` through the decoder (tokens joined by spaces when the file has none). Ids
    /// with no token are skipped, as are special tokens when `skipSpecialTokens`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let token = idToToken(id) else { continue }
            if skipSpecialTokens, addedVocabulary.specialContents.contains(Array(token.utf8)) { continue }
            tokens.append(token)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decoded(tokens)
    }
}

/// One thread's buffers for encoding.
final class EncodingWorkspace {
    var list = PieceList()
    var scratch = PreTokenizerScratch()
    var splits: [(span: Span, token: Int32)] = []
    var subSplits: [(span: Span, token: Int32)] = []
    var normalized: [UInt8] = []
    let bpe = BPEWorkspace()
}
