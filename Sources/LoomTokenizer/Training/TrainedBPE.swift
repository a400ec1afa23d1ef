import Foundation

/// A trained byte-level BPE vocabulary and the Hugging Face tokenizer folder that holds it.
///
/// The folder (`write(to:)`) loads with Loom's `Tokenizer(directory:)`, tokenizers'
/// `Tokenizer.from_file` and transformers' `AutoTokenizer.from_pretrained`, which all encode alike:
/// - `tokenizer.json`: model BPE (vocab, merges as `["a", "b"]` pairs, no unk token, no byte
///   fallback: every byte is a token), pre-tokenizer and decoder ByteLevel without a prefix space, a
///   TemplateProcessing post-processor that puts "<s>" before each sequence (LLaMA's `<s> $A` and
///   `<s> $A <s> $B`), and the special tokens as added tokens;
/// - `tokenizer_config.json`: PreTrainedTokenizerFast with bos "<s>", eos "</s>", pad "<pad>", no unk;
/// - `special_tokens_map.json`.
///
/// The files are written byte for byte the same for the same vocabulary.
public struct TrainedBPE: Sendable {
    public let options: BPETrainingOptions
    /// Every token by id, as tokenizer.json stores it (byte-level tokens in GPT-2 characters).
    public let tokens: [String]
    /// The merges in rank order, as token texts.
    public let merges: [(left: String, right: String)]
    public let statistics: BPETrainingStatistics

    init(options: BPETrainingOptions, tokens: [[UInt8]], merges: [(left: Int32, right: Int32)],
         statistics: BPETrainingStatistics) {
        self.options = options
        let texts = tokens.map { String(decoding: $0, as: UTF8.self) }
        self.tokens = texts
        self.merges = merges.map { (texts[Int($0.left)], texts[Int($0.right)]) }
        self.statistics = statistics
    }

    public static let tokenizerFileName = "tokenizer.json"
    public static let configurationFileName = "tokenizer_config.json"
    public static let specialTokensMapFileName = "special_tokens_map.json"

    /// Writes the three files into `directory` (created if needed; existing files are replaced).
    public func write(to directory: URL) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw TokenizerError("\(directory.path): exists and is not a folder")
        }
        do {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TokenizerError("\(directory.path): cannot create the folder (\(error.localizedDescription))")
        }
        let files = [(Self.tokenizerFileName, tokenizerJSON()), (Self.configurationFileName, configurationJSON()),
                     (Self.specialTokensMapFileName, specialTokensMapJSON())]
        for (name, text) in files {
            let url = directory.appendingPathComponent(name)
            do {
                try Data(text.utf8).write(to: url, options: .atomic)
            } catch {
                throw TokenizerError("\(url.path): cannot write the file (\(error.localizedDescription))")
            }
        }
    }

    // MARK: tokenizer.json

    /// The tokenizer.json text (keys in the order tokenizers writes them; one vocabulary entry and one
    /// merge per line).
    public func tokenizerJSON() -> String {
        let q = JSONText.quoted
        let bos = q(BPETrainingOptions.bosToken)
        let bosId = tokens.firstIndex(of: BPETrainingOptions.bosToken)!
        let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
        func piece(_ kind: String, _ id: String, _ typeId: Int) -> String {
            "{\"\(kind)\": {\"id\": \(id), \"type_id\": \(typeId)}}"
        }
        let single = [piece("SpecialToken", bos, 0), piece("Sequence", q("A"), 0)]
        let pair = single + [piece("SpecialToken", bos, 1), piece("Sequence", q("B"), 1)]

        var out = "{\n"
        out += "  \"version\": \"1.0\",\n"
        out += "  \"truncation\": null,\n"
        out += "  \"padding\": null,\n"
        out += "  \"added_tokens\": [\n"
        out += options.specialTokens.enumerated().map { id, token in
            "    {\"id\": \(id), \"content\": \(q(token)), \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}"
        }.joined(separator: ",\n")
        out += "\n  ],\n"
        out += "  \"normalizer\": null,\n"
        out += "  \"pre_tokenizer\": \(byteLevel),\n"
        out += "  \"post_processor\": {\n"
        out += "    \"type\": \"TemplateProcessing\",\n"
        out += "    \"single\": [\(single.joined(separator: ", "))],\n"
        out += "    \"pair\": [\(pair.joined(separator: ", "))],\n"
        out += "    \"special_tokens\": {\(bos): {\"id\": \(bos), \"ids\": [\(bosId)], \"tokens\": [\(bos)]}}\n"
        out += "  },\n"
        out += "  \"decoder\": \(byteLevel),\n"
        out += "  \"model\": {\n"
        out += "    \"type\": \"BPE\",\n"
        out += "    \"dropout\": null,\n"
        out += "    \"unk_token\": null,\n"
        out += "    \"continuing_subword_prefix\": null,\n"
        out += "    \"end_of_word_suffix\": null,\n"
        out += "    \"fuse_unk\": false,\n"
        out += "    \"byte_fallback\": false,\n"
        out += "    \"ignore_merges\": false,\n"
        out += "    \"vocab\": {\n"
        out += tokens.enumerated().map { id, token in "      \(q(token)): \(id)" }.joined(separator: ",\n")
        out += "\n    },\n"
        out += "    \"merges\": ["
        out += merges.isEmpty ? "" : "\n" + merges.map { "      [\(q($0.left)), \(q($0.right))]" }.joined(separator: ",\n") + "\n    "
        out += "]\n"
        out += "  }\n"
        out += "}\n"
        return out
    }

    // MARK: tokenizer_config.json, special_tokens_map.json

    /// transformers' tokenizer_config.json: the fast tokenizer class over tokenizer.json, the special
    /// token names, and `add_bos_token` (which the post-processor already does). Extra special tokens
    /// go under `additional_special_tokens`, which transformers 4 and 5 both read (5's own
    /// `extra_special_tokens` is a dictionary of named tokens in 4).
    public func configurationJSON() -> String {
        let q = JSONText.quoted
        var entries = [("add_bos_token", "true"), ("add_eos_token", "false")]
        if !options.extraSpecialTokens.isEmpty {
            entries.append(("additional_special_tokens", "[" + options.extraSpecialTokens.map(q).joined(separator: ", ") + "]"))
        }
        entries += [
            ("bos_token", q(BPETrainingOptions.bosToken)),
            ("clean_up_tokenization_spaces", "false"),
            ("eos_token", q(BPETrainingOptions.eosToken)),
            ("model_max_length", String(options.modelMaxLength)),
            ("pad_token", q(BPETrainingOptions.padToken)),
            ("tokenizer_class", q("PreTrainedTokenizerFast")),
            ("unk_token", "null"),
        ]
        return JSONText.object(entries)
    }

    /// special_tokens_map.json: the names of the special tokens (older transformers read it).
    public func specialTokensMapJSON() -> String {
        let q = JSONText.quoted
        var entries: [(String, String)] = []
        if !options.extraSpecialTokens.isEmpty {
            entries.append(("additional_special_tokens", "[" + options.extraSpecialTokens.map(q).joined(separator: ", ") + "]"))
        }
        entries += [
            ("bos_token", q(BPETrainingOptions.bosToken)),
            ("eos_token", q(BPETrainingOptions.eosToken)),
            ("pad_token", q(BPETrainingOptions.padToken)),
        ]
        return JSONText.object(entries)
    }
}

/// Writing JSON text by hand, so files come out in a fixed layout.
enum JSONText {
    /// `text` as a JSON string literal, escaped as serde_json does: quote, backslash and control
    /// characters only (other characters are written as they are).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// An object with one `"key": value` (value already JSON) per line.
    static func object(_ entries: [(String, String)]) -> String {
        "{\n" + entries.map { "  \(quoted($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}
