/// Reading the components of tokenizer.json. Field names, defaults and required keys follow
/// tokenizers' serde definitions; a `type` Loom does not implement throws an error naming the
/// component kind, the type and the key path.
enum ComponentLoading {
    static func unsupported(_ kind: String, _ type: String, _ node: JSONNode) -> TokenizerError {
        node.error("unsupported \(kind) '\(type)' (Loom implements the BPE pipeline components; see LoomTokenizer's Tokenizer docs)")
    }

    // MARK: Patterns

    /// `{"String": s}` or `{"Regex": r}`.
    static func pattern(_ node: JSONNode) throws -> TextPattern {
        if let literal = try node.optional("String") {
            return .literal(Array(try literal.string().utf8))
        }
        if let regex = try node.optional("Regex") {
            let source = try regex.string()
            do {
                return try TextPattern.regex(source)
            } catch let error as TokenizerError {
                throw regex.error(error.description)
            }
        }
        throw node.error("expected {\"String\": …} or {\"Regex\": …}")
    }

    static func behavior(_ node: JSONNode) throws -> SplitBehavior {
        let name = try node.string()
        guard let behavior = SplitBehavior(rawValue: name) else {
            throw node.error("unknown split behavior '\(name)' (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)")
        }
        return behavior
    }

    // MARK: Normalizers

    static func normalizer(_ node: JSONNode) throws -> Normalizer {
        let type = try node.typeName()
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "Nmt": return .nmt
        case "Strip":
            return .strip(left: try node.required("strip_left").bool(), right: try node.required("strip_right").bool())
        case "Prepend":
            return .prepend(Array(try node.string("prepend").utf8))
        case "Replace":
            return .replace(try pattern(node.required("pattern")), Array(try node.string("content").utf8))
        case "Sequence":
            return .sequence(try node.required("normalizers").array().map(normalizer))
        default:
            throw unsupported("normalizer", type, node)
        }
    }

    // MARK: Pre-tokenizers

    static func preTokenizer(_ node: JSONNode) throws -> PreTokenizer {
        let type = try node.typeName()
        switch type {
        case "ByteLevel":
            return .byteLevel(addsPrefixSpace: try node.required("add_prefix_space").bool(),
                              usesRegex: try node.bool("use_regex", default: true))
        case "Split":
            return .split(try pattern(node.required("pattern")), try behavior(node.required("behavior")),
                          invert: try node.required("invert").bool())
        case "Metaspace":
            let replacement = try node.required("replacement").scalar().value
            var scheme = PrependScheme.always
            if let schemeNode = try node.optionalNonNull("prepend_scheme") {
                let name = try schemeNode.string()
                guard let parsed = PrependScheme(rawValue: name) else {
                    throw schemeNode.error("unknown prepend_scheme '\(name)' (expected always, first or never)")
                }
                scheme = parsed
            }
            // Legacy files: add_prefix_space false means "never" (and must not contradict prepend_scheme).
            if let legacy = try node.optionalNonNull("add_prefix_space"), try legacy.bool() == false {
                let declared = try node.optionalNonNull("prepend_scheme") != nil
                guard !declared || scheme == .never else {
                    throw legacy.error("add_prefix_space does not match declared prepend_scheme")
                }
                scheme = .never
            }
            return .metaspace(replacement: replacement, scheme: scheme, splits: try node.bool("split", default: true))
        case "Digits":
            let individual = try node.required("individual_digits").bool()
            return .split(.eachCharacter(.numeric), individual ? .isolated : .contiguous, invert: false)
        case "Punctuation":
            let behavior = try node.optionalNonNull("behavior").map(behavior) ?? .isolated
            return .split(.eachCharacter(.punctuation), behavior, invert: false)
        case "Whitespace":
            return .split(.wordsOrSymbols, .removed, invert: true)
        case "WhitespaceSplit":
            return .split(.eachCharacter(.whitespace), .removed, invert: false)
        case "BertPreTokenizer":
            return .sequence([.split(.eachCharacter(.whitespace), .removed, invert: false),
                              .split(.eachCharacter(.punctuation), .isolated, invert: false)])
        case "CharDelimiterSplit":
            return .split(.eachScalar(try node.required("delimiter").scalar().value), .removed, invert: false)
        case "Sequence":
            return .sequence(try node.required("pretokenizers").array().map(preTokenizer))
        default:
            throw unsupported("pre_tokenizer", type, node)
        }
    }

    // MARK: Post-processors

    /// `vocabularyId` resolves a token to its id for the special-token checks.
    static func postProcessor(_ node: JSONNode) throws -> PostProcessor {
        let type = try node.typeName()
        switch type {
        case "ByteLevel":
            return .byteLevel
        case "RobertaProcessing", "BertProcessing":
            let sep = try tokenAndId(node.required("sep")), cls = try tokenAndId(node.required("cls"))
            return type == "RobertaProcessing" ? .roberta(cls: cls, sep: sep) : .bert(cls: cls, sep: sep)
        case "TemplateProcessing":
            var specials: [String: [Int32]] = [:]
            for (key, entry) in try node.required("special_tokens").entries() {
                let ids = try entry.required("ids").array().map { Int32(try $0.int()) }
                let tokens = try entry.optional("tokens")?.array() ?? []
                guard tokens.isEmpty || tokens.count == ids.count else {
                    throw entry.error("ids and tokens must have the same length")
                }
                specials[try entry.optional("id")?.string() ?? key] = ids
            }
            let single = try template(node.required("single"), specials: specials)
            let pair = try template(node.required("pair"), specials: specials)
            return .template(single: single, pair: pair, specials: specials)
        case "Sequence":
            return .sequence(try node.required("processors").array().map(postProcessor))
        default:
            throw unsupported("post_processor", type, node)
        }
    }

    private static func tokenAndId(_ node: JSONNode) throws -> Int32 {
        let parts = try node.array()
        guard parts.count == 2 else { throw node.error("expected [token, id]") }
        _ = try parts[0].string()
        return Int32(try parts[1].int())
    }

    /// A template: pieces `{"Sequence": {"id": "A", "type_id": 0}}` / `{"SpecialToken": {"id": "<s>", …}}`,
    /// or the string form `"<s>:0 $A:0"` tokenizers' Python API accepts.
    private static func template(_ node: JSONNode, specials: [String: [Int32]]) throws -> [PostProcessor.TemplatePiece] {
        var pieces: [PostProcessor.TemplatePiece] = []
        if case .string(let text) = node.value {
            for word in text.split(separator: " ") {
                let name = String(word.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0])
                if name.hasPrefix("$") {
                    let rest = name.dropFirst()
                    pieces.append(.sequence(rest == "B" || rest == "b" ? 1 : 0))
                } else {
                    pieces.append(.special(name))
                }
            }
        } else {
            for entry in try node.array() {
                if let sequence = try entry.optional("Sequence") {
                    let id = try sequence.string("id")
                    guard id == "A" || id == "B" else { throw sequence.error("sequence id must be A or B, found \(id)") }
                    pieces.append(.sequence(id == "A" ? 0 : 1))
                } else if let special = try entry.optional("SpecialToken") {
                    pieces.append(.special(try special.string("id")))
                } else {
                    throw entry.error("expected {\"Sequence\": …} or {\"SpecialToken\": …}")
                }
            }
        }
        for case .special(let name) in pieces where specials[name] == nil {
            throw node.error("template uses special token '\(name)' missing from special_tokens")
        }
        return pieces
    }

    // MARK: Decoders

    static func decoder(_ node: JSONNode) throws -> Decoder {
        let type = try node.typeName()
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(content: try node.required("content").scalar().value, start: try node.required("start").int(),
                          stop: try node.required("stop").int())
        case "Replace":
            return .replace(try pattern(node.required("pattern")), Array(try node.string("content").utf8))
        case "Metaspace":
            let replacement = try node.required("replacement").scalar().value
            var scheme = PrependScheme.always
            if let schemeNode = try node.optionalNonNull("prepend_scheme") {
                scheme = PrependScheme(rawValue: try schemeNode.string()) ?? .always
            }
            if let legacy = try node.optionalNonNull("add_prefix_space"), try legacy.bool() == false { scheme = .never }
            return .metaspace(replacement: replacement, scheme: scheme)
        case "BPEDecoder":
            return .bpe(suffix: Array((try node.optionalNonNull("suffix")?.string() ?? "</w>").utf8))
        case "WordPiece":
            return .wordPiece(prefix: try node.optionalNonNull("prefix")?.string() ?? "##",
                              cleanup: try node.bool("cleanup", default: true))
        case "Sequence":
            return .sequence(try node.required("decoders").array().map(decoder))
        default:
            throw unsupported("decoder", type, node)
        }
    }

    // MARK: Added tokens

    static func addedToken(_ node: JSONNode) throws -> AddedToken {
        let special = try node.bool("special", default: false)
        return AddedToken(content: try node.string("content"),
                          isSingleWord: try node.bool("single_word", default: false),
                          stripsLeft: try node.bool("lstrip", default: false),
                          stripsRight: try node.bool("rstrip", default: false),
                          isNormalized: try node.bool("normalized", default: !special),
                          isSpecial: special)
    }

    // MARK: Model

    static func model(_ node: JSONNode) throws -> BPEModel {
        let type = try node.optionalNonNull("type")?.string() ?? "BPE"
        guard type == "BPE" else { throw unsupported("model", type, node) }
        if let dropout = try node.optionalNonNull("dropout"), try dropout.double() != 0 {
            throw dropout.error("BPE dropout must be null or 0 (Loom tokenizes deterministically)")
        }
        var options = BPEModel.Options()
        options.unknownToken = try node.optionalNonNull("unk_token")?.string()
        options.continuingSubwordPrefix = try node.optionalNonNull("continuing_subword_prefix")?.string()
        options.endOfWordSuffix = try node.optionalNonNull("end_of_word_suffix")?.string()
        options.fusesUnknown = try node.bool("fuse_unk", default: false)
        options.usesByteFallback = try node.bool("byte_fallback", default: false)
        options.ignoresMerges = try node.bool("ignore_merges", default: false)

        let vocabularyNode = try node.required("vocab")
        guard case .object(let vocabularyEntries) = vocabularyNode.value else {
            throw vocabularyNode.error("expected an object, found \(vocabularyNode.value.kindName)")
        }
        var vocabulary: [(token: String, id: Int)] = []
        vocabulary.reserveCapacity(vocabularyEntries.count)
        var ids = ByteKeyedTable(minimumCapacity: vocabularyEntries.count)
        for (token, value) in vocabularyEntries {
            // Entries are read without building a key path each; one is made only for an error.
            guard case .number(let text) = value, let id = Int(text), id >= 0, id <= Int(Int32.max) else {
                let node = JSONNode(value: value, file: vocabularyNode.file, path: "\(vocabularyNode.path).\(token)")
                throw node.error("expected a token id (an integer from 0 to 2^31-1), found \(value.kindName)")
            }
            vocabulary.append((token, id))
            var utf8 = token
            utf8.withUTF8 { ids.insert($0.baseAddress ?? emptyBytes, $0.count, Int32(id), 0) }
        }
        let prefixLength = options.continuingSubwordPrefix?.utf8.count ?? 0
        var merges: [(Int32, Int32, Int32)] = []
        var merged: [UInt8] = []
        /// Ids of the two tokens and of their merge; `a` and `b` are UTF-8.
        func merge(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, _ entry: JSONNode) throws {
            guard let left = ids.lookup(a.baseAddress ?? emptyBytes, a.count)?.0 else {
                throw entry.error("merge token '\(Array(a).lossyString)' is not in the vocabulary")
            }
            guard let right = ids.lookup(b.baseAddress ?? emptyBytes, b.count)?.0 else {
                throw entry.error("merge token '\(Array(b).lossyString)' is not in the vocabulary")
            }
            guard b.count >= prefixLength else {
                throw entry.error("merge token '\(Array(b).lossyString)' is shorter than the continuing_subword_prefix")
            }
            merged.removeAll(keepingCapacity: true)
            merged.append(contentsOf: a)
            merged.append(contentsOf: b[prefixLength...])
            guard let id = ids.lookup(merged)?.0 else {
                throw entry.error("merged token '\(merged.lossyString)' is not in the vocabulary")
            }
            merges.append((left, right, id))
        }
        let mergesNode = try node.required("merges")
        guard case .array(let mergeValues) = mergesNode.value else {
            throw mergesNode.error("expected an array, found \(mergesNode.value.kindName)")
        }
        merges.reserveCapacity(mergeValues.count)
        for (index, value) in mergeValues.enumerated() {
            let entry = JSONNode(value: value, file: mergesNode.file, path: "\(mergesNode.path)[\(index)]")
            switch value {
            case .string(let line):
                if line.hasPrefix("#version") { continue }
                var bytes = line
                try bytes.withUTF8 { utf8 in
                    var spaces = 0, space = 0
                    for (i, byte) in utf8.enumerated() where byte == 0x20 {
                        spaces += 1
                        space = i
                    }
                    guard spaces == 1 else {
                        throw entry.error("a merge must be two tokens separated by one space, found \"\(line)\"")
                    }
                    try merge(UnsafeBufferPointer(rebasing: utf8[..<space]), UnsafeBufferPointer(rebasing: utf8[(space + 1)...]),
                              entry)
                }
            case .array(let parts):
                guard parts.count == 2, case .string(var a) = parts[0], case .string(var b) = parts[1] else {
                    throw entry.error("a merge must be a pair of strings")
                }
                try a.withUTF8 { a in try b.withUTF8 { b in try merge(a, b, entry) } }
            default:
                throw entry.error("expected a merge (\"a b\" or [\"a\", \"b\"]), found \(value.kindName)")
            }
        }
        return BPEModel(vocabulary: vocabulary, table: ids, merges: merges, options: options)
    }
}
