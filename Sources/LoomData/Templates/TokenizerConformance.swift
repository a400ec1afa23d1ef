import LoomTokenizer

/// The tokenizer.json tokenizer drives templates directly.
extension Tokenizer: TextEncoder {}

extension Tokenizer {
    /// The `legacy` flag that makes LLaVA's vicuna_v1 label arithmetic add up for this tokenizer
    /// (`preprocess_v1` shortens every round after the first by one token when it is false).
    ///
    /// LLaVA measures each round on its own, starting a fresh text, while in the conversation every
    /// round after the first follows "</s>". The −1 is right when the round's first word ("USER")
    /// is one token shorter after a special token than at the start of a text (SentencePiece's
    /// non-legacy mode drops the "▁" there, and "▁" + "USER" was two tokens); no adjustment is right
    /// when both give the same number of tokens — whether or not they are the same tokens (a
    /// Metaspace "first" tokenizer.json whose vocabulary has both "USER" and "▁USER" needs none).
    ///
    /// Decided from how this tokenizer actually encodes, not from tokenizer_config.json's `legacy`:
    /// Loom encodes as tokenizer.json says (as the tokenizers library does), and transformers' slow
    /// LlamaTokenizer, for which `legacy: false` was written, may encode differently. If neither
    /// setting adds up (the counts differ by something else), the config's flag (default true) is
    /// used and LLaVA's "tokenization mismatch" will reject multi-round samples either way.
    public var isLegacy: Bool {
        guard let eos = eosTokenId, let eosText = idToToken(eos) else { return configuration?.isLegacy ?? true }
        let alone = encode("USER", addSpecialTokens: false)
        let afterSpecial = encode(eosText + "USER", addSpecialTokens: false).dropFirst()
        if afterSpecial.count == alone.count { return true }
        if afterSpecial.count == alone.count - 1 { return false }
        return configuration?.isLegacy ?? true
    }
}
