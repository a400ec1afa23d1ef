import Foundation
import LoomAdapters
import LoomData
import Yams

/// A training recipe (YAML): the frozen models, the modalities, the data and one or more stages.
/// Every key and default is documented in docs/recipes.md. Relative paths are resolved against the
/// recipe file's folder.
public struct Recipe: Decodable {
    /// Hugging Face folder of the language model (config.json, safetensors, tokenizer.json).
    public var languageModel: String
    /// Folder holding tokenizer.json (default: the language model's folder).
    public var tokenizer: String?
    /// `pretrained` (default) loads the language model's weights; `random` builds it from its
    /// config.json with fresh weights (pretraining a language model from scratch).
    public var languageModelInit: LanguageModelInit
    public var modalities: [String: ModalityRecipe]
    public var data: DataRecipe
    public var stages: [StageRecipe]
    /// Where the recipe came from (for messages and relative paths).
    public internal(set) var source: String = ""
    /// The `--set` overrides applied when it was loaded.
    public internal(set) var overrides: [String] = []

    enum CodingKeys: String, CodingKey, CaseIterable {
        case languageModel = "language_model", tokenizer, languageModelInit = "language_model_init", modalities, data, stages
    }

    public enum LanguageModelInit: String, Decodable, CaseIterable { case pretrained, random }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        languageModel = try c.decode(String.self, forKey: .languageModel)
        tokenizer = try c.decodeIfPresent(String.self, forKey: .tokenizer)
        let initName = try c.decodeIfPresent(String.self, forKey: .languageModelInit) ?? "pretrained"
        guard let languageModelInit = LanguageModelInit(rawValue: initName) else {
            throw RecipeError("language_model_init must be pretrained or random, got \"\(initName)\"")
        }
        self.languageModelInit = languageModelInit
        modalities = try c.decodeIfPresent([String: ModalityRecipe].self, forKey: .modalities) ?? [:]
        data = try c.decodeIfPresent(DataRecipe.self, forKey: .data) ?? DataRecipe()
        stages = try c.decode([StageRecipe].self, forKey: .stages)
        guard !stages.isEmpty else { throw RecipeError("stages: at least one stage is needed") }
        let names = stages.map(\.name)
        guard Set(names).count == names.count else { throw RecipeError("stages: names repeat (\(names.joined(separator: ", ")))") }
    }

    /// Reads and validates a recipe file; `overrides` are `key.path=value` pairs applied first
    /// (`stages.0.learning_rate=1e-4`, `data.max_length=512`).
    public static func load(_ path: String, overrides: [String] = []) throws -> Recipe {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError("cannot read recipe \(path): \(error.localizedDescription)")
        }
        do {
            try checkNesting(text)
            var node = try Yams.compose(yaml: text) ?? Node.mapping([:])
            try checkSize(node)
            for override in overrides { node = try apply(override, to: node) }
            var recipe = try YAMLDecoder().decode(Recipe.self, from: try Yams.serialize(node: node))
            recipe.source = URL(fileURLWithPath: path).standardizedFileURL.path
            recipe.overrides = overrides
            recipe.resolvePaths(relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent())
            return recipe
        } catch let error as RecipeError {
            throw RecipeError("\(path): \(error.description)")
        } catch let error as DecodingError {
            throw RecipeError("\(path): \(describe(error))")
        } catch {
            throw RecipeError("\(path): \(error)")
        }
    }

    /// Most YAML nodes a recipe may expand to. Anchors and aliases are allowed, but each alias repeats
    /// its anchor's nodes, so a few lines can describe 10⁸ of them (the "billion laughs"); a real
    /// recipe has a few hundred.
    static let maxNodes = 100_000

    /// Deepest nesting a recipe may have. The YAML composer recurses once per level, so 500,000 nested
    /// brackets would overflow the stack; a real recipe nests about five levels.
    static let maxNesting = 256

    /// An upper bound on the nesting of `text`, checked before composing: per line, the indentation plus
    /// leading "- " / "? " entries, plus the open flow collections ("[", "{"; closers in quoted strings
    /// and comments do not count). It can only overestimate, never miss a level.
    static func checkNesting(_ text: String) throws {
        let space = UInt8(ascii: " "), backslash = UInt8(ascii: "\\"), hash = UInt8(ascii: "#")
        let dash = UInt8(ascii: "-"), question = UInt8(ascii: "?")
        let singleQuote = UInt8(ascii: "'"), doubleQuote = UInt8(ascii: "\"")
        var flow = 0, deepest = 0
        var quote: UInt8?
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let bytes = Array(line)
            var i = 0
            while i < bytes.count, bytes[i] == space { i += 1 }
            var block = i
            while quote == nil, i + 1 < bytes.count, bytes[i] == dash || bytes[i] == question, bytes[i + 1] == space {
                block += 2
                i += 2
                while i < bytes.count, bytes[i] == space { i += 1 }
            }
            while i < bytes.count {
                let c = bytes[i]
                if let open = quote {
                    if c == backslash && open == doubleQuote { i += 1 } else if c == open { quote = nil }
                } else if c == singleQuote || c == doubleQuote {
                    quote = c
                } else if c == hash && (i == 0 || bytes[i - 1] == space) {
                    break
                } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                    flow = max(0, flow - 1)
                }
                // Openers count even inside quotes: that can only overestimate.
                if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                    flow += 1
                    deepest = max(deepest, block + flow)
                }
                i += 1
            }
            deepest = max(deepest, block + flow)
        }
        guard deepest <= maxNesting else { throw RecipeError("the recipe nests deeper than \(maxNesting) levels") }
    }

    /// Counts the nodes with aliases expanded, stopping as soon as the count passes `maxNodes`.
    static func checkSize(_ root: Node) throws {
        var count = 0
        var pending = [root]
        while let node = pending.popLast() {
            count += 1
            guard count <= maxNodes else {
                throw RecipeError("the recipe expands to more than \(maxNodes) YAML nodes (anchors and aliases nested too deep)")
            }
            switch node {
            case .scalar: break
            case .mapping(let mapping): for (key, value) in mapping { pending.append(key); pending.append(value) }
            case .sequence(let sequence): pending.append(contentsOf: sequence)
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String { keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        switch error {
        case .typeMismatch(let type, let context): return "key \(path(context.codingPath)) should be \(type)"
        case .valueNotFound(let type, let context): return "key \(path(context.codingPath)) is empty, expected \(type)"
        case .keyNotFound(let key, let context): return "missing key \(path(context.codingPath + [key]))"
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? RecipeError { return underlying.description }
            return "invalid value at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// `a.b.0.c=value` sets that key (creating mappings as needed); the value is parsed as YAML.
    static func apply(_ override: String, to node: Node) throws -> Node {
        guard let eq = override.firstIndex(of: "=") else { throw RecipeError("--set \(override): expected key.path=value") }
        let keys = override[..<eq].split(separator: ".").map(String.init)
        let value = try Yams.compose(yaml: String(override[override.index(after: eq)...])) ?? Node("")
        guard !keys.isEmpty else { throw RecipeError("--set \(override): empty key path") }
        func set(_ node: Node, _ path: ArraySlice<String>) throws -> Node {
            guard let key = path.first else { return value }
            if case .sequence(var seq) = node {
                guard let index = Int(key), seq.indices.contains(index) else {
                    throw RecipeError("--set \(override): \(key) is not an index of a list of \(seq.count)")
                }
                seq[index] = try set(seq[index], path.dropFirst())
                return .sequence(seq)
            }
            var mapping: Node.Mapping
            if case .mapping(let m) = node { mapping = m } else { mapping = [:] }
            mapping[Node(key)] = try set(mapping[Node(key)] ?? .mapping([:]), path.dropFirst())
            return .mapping(mapping)
        }
        return try set(node, keys[...])
    }

    /// The recipe a run folder was trained with (`RUN_DIR/run.json` names the file and overrides).
    public static func load(run directory: URL) throws -> Recipe {
        struct RunFile: Decodable { var recipe: String; var overrides: [String] }
        let url = directory.appendingPathComponent("run.json")
        guard let data = try? Data(contentsOf: url) else {
            throw RecipeError("\(directory.path) is not a Loom run folder (no run.json; train one with loom train RECIPE --output \(directory.path))")
        }
        let run = try JSONDecoder().decode(RunFile.self, from: data)
        return try load(run.recipe, overrides: run.overrides)
    }

    mutating func resolvePaths(relativeTo base: URL) {
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : base.appendingPathComponent(path).standardizedFileURL.path
        }
        languageModel = resolve(languageModel)
        tokenizer = tokenizer.map(resolve)
        for (name, var modality) in modalities {
            modality.encoder = resolve(modality.encoder)
            modalities[name] = modality
        }
        data.resolve(resolve)
        for i in stages.indices {
            stages[i].data?.resolve(resolve)
            stages[i].initFrom = stages[i].initFrom.map(resolve)
        }
    }
}

/// One modality: its encoder folder, feature selection and connector.
public struct ModalityRecipe: Decodable {
    /// Hugging Face folder of the frozen encoder (with its preprocessor_config.json).
    public var encoder: String
    /// Connector name: linear, mlp2x_gelu, perceiver, frame_stack, avg_pool, or a registered one.
    public var connector: String
    public var connectorOptions: ConnectorOptions
    /// Modality-specific options passed to its kind (image: feature_layer −2, keep_cls false,
    /// pad_square true; audio: ctc_words), as strings.
    public var options: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case encoder, connector, connectorOptions = "connector_options", options
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        encoder = try c.decode(String.self, forKey: .encoder)
        connector = try c.decodeIfPresent(String.self, forKey: .connector) ?? "mlp2x_gelu"
        if c.contains(.connectorOptions) {
            let nested = try c.superDecoder(forKey: .connectorOptions)
            try nested.rejectUnknownKeys(allowed: ConnectorOptions.keyNames)
            connectorOptions = try ConnectorOptions(from: nested)
        } else {
            connectorOptions = ConnectorOptions()
        }
        options = try c.decodeIfPresent([String: YAMLScalar].self, forKey: .options)?.mapValues(\.text) ?? [:]
    }
}

/// A scalar option given as a string, number or boolean.
struct YAMLScalar: Decodable {
    var text: String
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { text = String(b) } else if let i = try? c.decode(Int.self) { text = String(i) }
        else if let d = try? c.decode(Double.self) { text = String(d) } else { text = try c.decode(String.self) }
    }
}

/// Data files and how samples become batches. A stage's `data` overrides the recipe's field by field.
public struct DataRecipe: Decodable {
    /// LLaVA JSON or JSONL files.
    public var train: [String]?
    public var eval: [String]?
    /// Folder media paths are relative to (default: the folder of each data file).
    public var mediaRoot: String?
    /// Tokens per sample after placeholder expansion (LLaVA: 2048).
    public var maxLength: Int?
    /// Stop at the first bad sample instead of skipping it.
    public var strict: Bool?
    /// LLaVA's group_by_modality_length.
    public var groupByModalityLength: Bool?
    /// Let samples name media outside the media folder (absolute paths, `..`, symlinks out).
    public var allowMediaOutsideRoot: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case train, eval, mediaRoot = "media_root", maxLength = "max_length", strict
        case groupByModalityLength = "group_by_modality_length", allowMediaOutsideRoot = "allow_media_outside_root"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func files(_ key: CodingKeys) throws -> [String]? {
            if let one = try? c.decodeIfPresent(String.self, forKey: key) { return [one] }
            return try c.decodeIfPresent([String].self, forKey: key)
        }
        train = try files(.train)
        eval = try files(.eval)
        mediaRoot = try c.decodeIfPresent(String.self, forKey: .mediaRoot)
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength)
        strict = try c.decodeIfPresent(Bool.self, forKey: .strict)
        groupByModalityLength = try c.decodeIfPresent(Bool.self, forKey: .groupByModalityLength)
        allowMediaOutsideRoot = try c.decodeIfPresent(Bool.self, forKey: .allowMediaOutsideRoot)
        if let maxLength, maxLength <= 0 { throw RecipeError("data.max_length must be positive, got \(maxLength)") }
    }

    /// Fields of `override` where set, else these.
    public func merged(with override: DataRecipe?) -> DataRecipe {
        guard let o = override else { return self }
        var m = self
        m.train = o.train ?? train
        m.eval = o.eval ?? eval
        m.mediaRoot = o.mediaRoot ?? mediaRoot
        m.maxLength = o.maxLength ?? maxLength
        m.strict = o.strict ?? strict
        m.groupByModalityLength = o.groupByModalityLength ?? groupByModalityLength
        m.allowMediaOutsideRoot = o.allowMediaOutsideRoot ?? allowMediaOutsideRoot
        return m
    }

    mutating func resolve(_ resolve: (String) -> String) {
        train = train?.map(resolve)
        eval = eval?.map(resolve)
        mediaRoot = mediaRoot.map(resolve)
    }
}
