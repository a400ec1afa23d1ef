import LoomTokenizer

/// The tokenizer.json tokenizer drives templates directly.
extension Tokenizer: TextEncoder {}

extension Tokenizer {
    /// Whether text right after a special token is encoded as if it started the input (SentencePiece's
    /// "legacy" behaviour, which decides LLaVA's per-round −1 in vicuna_v1 label masking).
    ///
    /// Decided from how this tokenizer actually encodes, not from tokenizer_config.json's `legacy`:
    /// Loom encodes as tokenizer.json says (as the tokenizers library does), and transformers' slow
    /// LlamaTokenizer, for which `legacy: false` was written, may encode differently.
    public var isLegacy: Bool {
        guard let eos = eosTokenId, let eosText = idToToken(eos) else { return configuration?.isLegacy ?? true }
        let alone = encode("USER", addSpecialTokens: false)
        let afterSpecial = encode(eosText + "USER", addSpecialTokens: false)
        return Array(afterSpecial.dropFirst()) == alone
    }
}
