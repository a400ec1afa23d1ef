import Foundation
import LoomCheckpoint
import LoomNN

/// PEFT's `adapter_config.json` for a LoRA adapter (peft's `LoraConfig`), restricted to plain LoRA on
/// Linear layers. Fields that would change the computation in ways Loom does not implement (DoRA,
/// LoRA biases, fan_in_fan_out, modules_to_save, …) are rejected with the key named, never ignored.
///
/// Decoding accepts every field peft 0.21 writes. A field Loom does not know is accepted only when it
/// is off (null, false, {} or []); otherwise decoding throws, since it may be a feature that changes
/// the adapter's output.
public struct LoRAConfig: Codable, Equatable, Sendable {
    /// Always "LORA".
    public var peftType = "LORA"
    /// peft's task type, e.g. "CAUSAL_LM" (selects the PeftModel wrapper; no effect on the weights).
    public var taskType: String?
    public var baseModelNameOrPath: String?
    public var revision: String?
    /// The rank r (default 8).
    public var r = 8
    /// scale = lora_alpha / r (default 8).
    public var loraAlpha: Double = 8
    /// Dropout on the LoRA input path in training (default 0).
    public var loraDropout: Double = 0
    /// Which Linear layers get LoRA (PEFT's matching, see `LoRATargets`).
    public var targetModules: LoRATargets = .names(LoRAConfig.llamaTargetModules)
    /// Layers never adapted even when targeted (same matching as `targetModules`).
    public var excludeModules: LoRATargets?
    /// Only "none": Loom trains no biases.
    public var bias = "none"
    /// scale = lora_alpha / √r instead of lora_alpha / r.
    public var useRSLoRA = false
    /// Only false (GPT-2 Conv1D-style [in, out] weights are not supported).
    public var fanInFanOut = false
    /// Only null: fully trained extra modules are not part of a Loom LoRA adapter.
    public var modulesToSave: [String]?
    /// Rank per layer, keyed by a regex matched against the end of the layer's key.
    public var rankPattern: [String: Int] = [:]
    /// lora_alpha per layer, keyed like `rankPattern`.
    public var alphaPattern: [String: Double] = [:]
    /// How new LoRA weights are filled (true → kaiming-uniform A / zero B, "gaussian", false).
    public var initLoRAWeights: LoRAInitialization = .kaimingUniform
    /// Only false.
    public var useDoRA = false
    /// Restricts list-form targets to these layer indices (an int or a list in the file).
    public var layersToTransform: [Int]?
    /// The module-list names the layer index follows (e.g. "layers"); nil = any.
    public var layersPattern: [String]?
    /// peft sets true when saving; no effect on the weights.
    public var inferenceMode = true

    /// LLaMA / Qwen2 / Mistral's attention and MLP projections (never lm_head).
    public static let llamaTargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    public init(r: Int = 8, loraAlpha: Double = 8, loraDropout: Double = 0,
                targetModules: LoRATargets = .names(LoRAConfig.llamaTargetModules),
                useRSLoRA: Bool = false, initLoRAWeights: LoRAInitialization = .kaimingUniform,
                taskType: String? = "CAUSAL_LM", baseModelNameOrPath: String? = nil) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.loraDropout = loraDropout
        self.targetModules = targetModules
        self.useRSLoRA = useRSLoRA
        self.initLoRAWeights = initLoRAWeights
        self.taskType = taskType
        self.baseModelNameOrPath = baseModelNameOrPath
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path"
        case revision, r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout"
        case targetModules = "target_modules", excludeModules = "exclude_modules", bias
        case useRSLoRA = "use_rslora", fanInFanOut = "fan_in_fan_out", modulesToSave = "modules_to_save"
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern", initLoRAWeights = "init_lora_weights"
        case useDoRA = "use_dora", layersToTransform = "layers_to_transform", layersPattern = "layers_pattern"
        case inferenceMode = "inference_mode"
    }

    /// Fields peft writes that do not affect a plain LoRA adapter's weights or output, whatever their value.
    static let inertFields: Set<String> = [
        "peft_version", "auto_mapping", "megatron_core", "megatron_config", "qalora_group_size",
        "loftq_config", "eva_config", "corda_config", "lora_ga_config", "ensure_weight_tying",
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peftType = try c.value(.peftType, default: "LORA")
        taskType = try c.decodeIfPresent(String.self, forKey: .taskType)
        baseModelNameOrPath = try c.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
        revision = try c.decodeIfPresent(String.self, forKey: .revision)
        r = try c.value(.r, default: 8)
        loraAlpha = try c.value(.loraAlpha, default: 8)
        loraDropout = try c.value(.loraDropout, default: 0)
        guard let targets = try c.decodeIfPresent(LoRATargets.self, forKey: .targetModules) else {
            throw ConfigError("target_modules is missing or null (peft resolves its per-model default before saving; set it explicitly)")
        }
        targetModules = targets
        excludeModules = try c.decodeIfPresent(LoRATargets.self, forKey: .excludeModules)
        bias = try c.value(.bias, default: "none")
        useRSLoRA = try c.value(.useRSLoRA, default: false)
        fanInFanOut = try c.value(.fanInFanOut, default: false)
        modulesToSave = try c.decodeIfPresent([String].self, forKey: .modulesToSave)
        rankPattern = try c.value(.rankPattern, default: [:])
        alphaPattern = try c.value(.alphaPattern, default: [:])
        initLoRAWeights = try c.decodeIfPresent(InitLoRAWeights.self, forKey: .initLoRAWeights)?.value ?? .kaimingUniform
        useDoRA = try c.value(.useDoRA, default: false)
        layersToTransform = try c.decodeIfPresent(IntOrList.self, forKey: .layersToTransform)?.values
        layersPattern = try c.decodeIfPresent(StringOrList.self, forKey: .layersPattern)?.values
        inferenceMode = try c.value(.inferenceMode, default: true)

        // Unknown fields: accepted only when switched off.
        let all = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.rawValue)).union(Self.inertFields)
        for key in all.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !known.contains(key.stringValue) {
            let value = try all.decode(LooseJSON.self, forKey: key)
            guard value.isOff else {
                throw ConfigError("key \(key.stringValue) is \(value) but Loom supports plain LoRA only (this field must be null, false or empty)")
            }
        }
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peftType, forKey: .peftType)
        try c.encode(taskType, forKey: .taskType)
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath)
        try c.encode(revision, forKey: .revision)
        try c.encode(r, forKey: .r)
        try c.encode(loraAlpha, forKey: .loraAlpha)
        try c.encode(loraDropout, forKey: .loraDropout)
        try c.encode(targetModules, forKey: .targetModules)
        try c.encode(excludeModules, forKey: .excludeModules)
        try c.encode(bias, forKey: .bias)
        try c.encode(useRSLoRA, forKey: .useRSLoRA)
        try c.encode(fanInFanOut, forKey: .fanInFanOut)
        try c.encode(modulesToSave, forKey: .modulesToSave)
        try c.encode(rankPattern, forKey: .rankPattern)
        try c.encode(alphaPattern, forKey: .alphaPattern)
        try c.encode(InitLoRAWeights(value: initLoRAWeights), forKey: .initLoRAWeights)
        try c.encode(useDoRA, forKey: .useDoRA)
        try c.encode(layersToTransform, forKey: .layersToTransform)
        try c.encode(layersPattern, forKey: .layersPattern)
        try c.encode(inferenceMode, forKey: .inferenceMode)
    }

    /// Throws (naming the key) for anything Loom cannot reproduce exactly.
    public func validate() throws {
        guard peftType == "LORA" else { throw ConfigError("key peft_type is \"\(peftType)\"; only \"LORA\" adapters are supported") }
        guard r > 0 else { throw ConfigError("key r is \(r); the rank must be positive") }
        guard loraDropout >= 0 && loraDropout < 1 else { throw ConfigError("key lora_dropout is \(loraDropout); must be in [0, 1)") }
        guard bias == "none" else {
            throw ConfigError("key bias is \"\(bias)\"; only \"none\" is supported (Loom's LoRA trains no biases)")
        }
        guard !fanInFanOut else { throw ConfigError("key fan_in_fan_out is true; only false is supported (weights are stored [out, in])") }
        if let modulesToSave, !modulesToSave.isEmpty {
            throw ConfigError("key modules_to_save is \(modulesToSave); only null is supported (train those modules outside the LoRA adapter)")
        }
        guard !useDoRA else { throw ConfigError("key use_dora is true; DoRA adapters are not supported") }
        for (pattern, rank) in rankPattern where rank <= 0 {
            throw ConfigError("key rank_pattern.\(pattern) is \(rank); ranks must be positive")
        }
        for pattern in Array(rankPattern.keys) + Array(alphaPattern.keys) {
            _ = try LoRATargets.regex("(.*\\.)?(\(pattern))$", from: "rank_pattern/alpha_pattern key \"\(pattern)\"")
        }
        if case .pattern(let p) = targetModules { _ = try LoRATargets.regex(p, from: "target_modules") }
        if case .pattern(let p) = excludeModules { _ = try LoRATargets.regex(p, from: "exclude_modules") }
    }

    // MARK: Matching (PEFT's check_target_module_exists and get_pattern_key)

    /// Whether the Linear layer with dotted key `name` (PEFT's module name) gets LoRA.
    public func targets(_ name: String) -> Bool {
        if let excludeModules, excludeModules.matches(name) { return false }
        switch targetModules {
        case .pattern(let p) where p.lowercased() == "all-linear":
            return name != "lm_head" && !name.hasSuffix(".lm_head")
        case .pattern:
            return targetModules.matches(name)
        case .names(let names):
            guard targetModules.matches(name) else { return false }
            if names.contains(name) { return true }   // an exact name bypasses layers_to_transform, as in PEFT
            guard let layers = layersToTransform, !layers.isEmpty else { return true }
            guard let index = layerIndex(of: name) else { return false }
            return layers.contains(index)
        }
    }

    /// The first numbered segment after a `layers_pattern` name (or after any name when unset).
    func layerIndex(of name: String) -> Int? {
        let patterns = (layersPattern ?? []).isEmpty ? [#"^.*?\.[^.]*\.(\d+)\."#] : layersPattern!.map { #"^(?:.*?\.)?"# + $0 + #"\.(\d+)\."# }
        for pattern in patterns {
            guard let regex = try? NSRegularExpression(pattern: pattern),
                  let match = regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)),
                  let range = Range(match.range(at: 1), in: name) else { continue }
            return Int(name[range])
        }
        return nil
    }

    /// The rank of layer `name` (rank_pattern, else r). Throws when patterns disagree.
    public func rank(for name: String) throws -> Int { try patternValue(rankPattern, name, field: "rank_pattern") ?? r }

    /// lora_alpha of layer `name` (alpha_pattern, else lora_alpha). Throws when patterns disagree.
    public func alpha(for name: String) throws -> Double { try patternValue(alphaPattern, name, field: "alpha_pattern") ?? loraAlpha }

    /// PEFT takes the first key (in file order) with `re.match(rf"(.*\.)?({key})$", name)`. JSON
    /// object order is not kept by Codable, so several matching keys with different values throw.
    func patternValue<V: Equatable>(_ patterns: [String: V], _ name: String, field: String) throws -> V? {
        var found: [(String, V)] = []
        for (key, value) in patterns.sorted(by: { $0.key < $1.key }) {
            let regex = try LoRATargets.regex("(.*\\.)?(\(key))$", from: "\(field) key \"\(key)\"")
            if regex.firstMatch(in: name, options: .anchored, range: NSRange(name.startIndex..., in: name)) != nil {
                found.append((key, value))
            }
        }
        if found.count > 1, found.contains(where: { $0.1 != found[0].1 }) {
            throw ConfigError("\(field): layer \(name) matches several keys with different values (\(found.map { "\($0.0): \($0.1)" }.joined(separator: ", "))); make them disjoint")
        }
        return found.first?.1
    }

    /// scale = alpha / r, or alpha / √r with rsLoRA, for layer `name`.
    public func scale(for name: String) throws -> Float {
        let r = Double(try rank(for: name)), alpha = try alpha(for: name)
        return Float(useRSLoRA ? alpha / r.squareRoot() : alpha / r)
    }
}

/// PEFT's `target_modules` / `exclude_modules`: a list of names (a layer matches when its key equals a
/// name or ends with "." + name) or one regular expression that must match the whole key
/// (`re.fullmatch`); the string "all-linear" means every Linear but the output head.
public enum LoRATargets: Codable, Equatable, Sendable {
    case names([String])
    case pattern(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let names = try? c.decode([String].self) {
            self = .names(names)
        } else {
            self = .pattern(try c.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .names(let names): try c.encode(names)
        case .pattern(let p): try c.encode(p)
        }
    }

    public func matches(_ name: String) -> Bool {
        switch self {
        case .names(let names):
            return names.contains { name == $0 || name.hasSuffix("." + $0) }
        case .pattern(let p):
            guard let regex = try? LoRATargets.regex(#"(?:"# + p + #")\z"#, from: "") else { return false }
            return regex.firstMatch(in: name, options: .anchored, range: NSRange(name.startIndex..., in: name)) != nil
        }
    }

    static func regex(_ pattern: String, from field: String) throws -> NSRegularExpression {
        do { return try NSRegularExpression(pattern: pattern) } catch {
            throw ConfigError("\(field): \"\(pattern)\" is not a valid regular expression")
        }
    }
}

// MARK: JSON shapes peft writes

/// init_lora_weights: true | false | "gaussian" (others, such as "pissa" or "olora", also rewrite the
/// base weights and are rejected).
private struct InitLoRAWeights: Codable {
    var value: LoRAInitialization

    init(value: LoRAInitialization) { self.value = value }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let flag = try? c.decode(Bool.self) {
            value = flag ? .kaimingUniform : .random
        } else {
            let name = try c.decode(String.self)
            guard name.lowercased() == "gaussian" else {
                throw ConfigError("key init_lora_weights is \"\(name)\"; only true, false and \"gaussian\" are supported (other schemes change the base weights)")
            }
            value = .gaussian
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case .kaimingUniform: try c.encode(true)
        case .random: try c.encode(false)
        case .gaussian: try c.encode("gaussian")
        }
    }
}

private struct IntOrList: Decodable {
    var values: [Int]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([Int].self) { values = list } else { values = [try c.decode(Int.self)] }
    }
}

private struct StringOrList: Decodable {
    var values: [String]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([String].self) { values = list } else { values = [try c.decode(String.self)] }
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Any JSON value, to tell whether an unknown field is switched off.
private enum LooseJSON: Decodable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([LooseJSON]), object([String: LooseJSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([LooseJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: LooseJSON].self)) }
    }

    var isOff: Bool {
        switch self {
        case .null, .bool(false): return true
        case .array(let a): return a.isEmpty
        case .object(let o): return o.isEmpty
        default: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? "\(Int(n))" : "\(n)"
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[\(a.map(\.description).joined(separator: ", "))]"
        case .object(let o): return "{\(o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", "))}"
        }
    }
}
