import Foundation

/// What Loom reads from a transformers `tokenizer_config.json` next to tokenizer.json. None of it
/// changes `encode`, which follows tokenizer.json alone (as the tokenizers library does); the special
/// token names feed `bosTokenId` / `eosTokenId` / `padTokenId`, and the flags are reported for callers
/// that need to know what transformers' slow tokenizer classes would add.
public struct TokenizerConfiguration: Sendable, Equatable {
    /// Each special token: absent key → nil (unknown), `null` → "" (explicitly none), else the content.
    /// A token may be a string or an AddedToken object `{"content": …}`.
    public var bosToken: String?
    public var eosToken: String?
    public var padToken: String?
    public var unkToken: String?
    public var addsBosToken: Bool?
    public var addsEosToken: Bool?
    public var modelMaxLength: Int?
    /// `legacy` of LlamaTokenizer (decides LLaVA's −1 label adjustment).
    public var isLegacy: Bool?

    public init() {}

    static func load(_ url: URL) throws -> TokenizerConfiguration {
        let root = try JSONNode.load(url)
        var configuration = TokenizerConfiguration()
        func token(_ key: String) throws -> String? {
            guard let node = try root.optional(key) else { return nil }
            switch node.value {
            case .null: return ""
            case .string(let text): return text
            case .object: return try node.string("content")
            default: throw node.error("expected a token string or an AddedToken object, found \(node.value.kindName)")
            }
        }
        configuration.bosToken = try token("bos_token")
        configuration.eosToken = try token("eos_token")
        configuration.padToken = try token("pad_token")
        configuration.unkToken = try token("unk_token")
        configuration.addsBosToken = try root.optionalNonNull("add_bos_token")?.bool()
        configuration.addsEosToken = try root.optionalNonNull("add_eos_token")?.bool()
        configuration.isLegacy = try root.optionalNonNull("legacy")?.bool()
        if let length = try root.optionalNonNull("model_max_length") {
            // transformers writes a huge float (1e30) for "no limit".
            configuration.modelMaxLength = (try? length.int()) ?? nil
        }
        return configuration
    }
}
