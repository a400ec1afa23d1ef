/// What `BPETrainer` learns and how the tokenizer folder it writes behaves.
///
/// The vocabulary is laid out LLaMA-style: the special tokens first ("<s>" 0, "</s>" 1, "<pad>" 2,
/// then `extraSpecialTokens` from 3), then the 256 byte symbols in byte order, then one token per
/// merge in the order the merges were learned.
public struct BPETrainingOptions: Sendable, Equatable {
    public static let bosToken = "<s>"
    public static let eosToken = "</s>"
    public static let padToken = "<pad>"

    /// The vocabulary size to reach, special tokens and the 256 byte symbols included. Training
    /// stops earlier when no pair is frequent enough.
    public var vocabularySize: Int
    /// A pair seen fewer times than this in the corpus is never merged (tokenizers' `min_frequency`).
    public var minimumFrequency: Int
    /// Special tokens after "<s>", "</s>" and "<pad>" (for example "<image>"), with ids 3, 4, ….
    public var extraSpecialTokens: [String]
    /// tokenizer_config.json's `model_max_length`.
    public var modelMaxLength: Int

    public init(vocabularySize: Int, minimumFrequency: Int = 2, extraSpecialTokens: [String] = [],
                modelMaxLength: Int = 2048) {
        self.vocabularySize = vocabularySize
        self.minimumFrequency = minimumFrequency
        self.extraSpecialTokens = extraSpecialTokens
        self.modelMaxLength = modelMaxLength
    }

    /// Every special token in id order.
    public var specialTokens: [String] {
        [Self.bosToken, Self.eosToken, Self.padToken] + extraSpecialTokens
    }

    /// The smallest vocabulary the options allow: the special tokens and the byte symbols.
    public var minimumVocabularySize: Int { specialTokens.count + 256 }

    /// Throws for options no tokenizer can be trained with.
    public func validate() throws {
        guard vocabularySize >= minimumVocabularySize else {
            throw TokenizerError("vocabulary size \(vocabularySize) is too small: the \(specialTokens.count) special tokens and 256 byte symbols alone take \(minimumVocabularySize)")
        }
        guard minimumFrequency >= 1 else {
            throw TokenizerError("minimum frequency must be at least 1, got \(minimumFrequency)")
        }
        guard modelMaxLength > 0 else {
            throw TokenizerError("model max length must be positive, got \(modelMaxLength)")
        }
        var seen = Set<[UInt8]>()
        for token in specialTokens {
            let bytes = Array(token.utf8)
            guard !bytes.isEmpty else { throw TokenizerError("a special token cannot be empty") }
            guard seen.insert(bytes).inserted else { throw TokenizerError("special token '\(token)' is given twice") }
            // A special token spelled like a byte symbol would take that symbol's place in the vocabulary.
            let scalars = Array(token.unicodeScalars)
            if scalars.count == 1, ByteLevelAlphabet.byte(of: scalars[0].value) != nil {
                throw TokenizerError("special token '\(token)' is one of the 256 byte symbols")
            }
        }
    }
}
