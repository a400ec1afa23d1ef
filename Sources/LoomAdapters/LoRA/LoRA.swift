import Foundation
import LoomCheckpoint
import LoomNN
import LoomTensor

/// LoRA adapters over a module tree, read and written in PEFT's format: a folder with
/// `adapter_config.json` and `adapter_model.safetensors`, whose keys are
/// `base_model.model.<layer path>.lora_A.weight` [r, in] / `.lora_B.weight` [out, r].
///
/// The low-rank pair itself lives on `Linear` (`attachLoRA`, `mergeLoRA`, …); this namespace finds
/// the layers, and saves and loads whole adapters.
public enum LoRA {
    public static let configFileName = "adapter_config.json"
    public static let weightsFileName = "adapter_model.safetensors"
    /// What PeftModel prepends to the base model's keys.
    public static let peftKeyPrefix = "base_model.model."

    /// Attaches LoRA to every Linear of `module` that `config` targets (matched on its dotted key in
    /// `module`, as PEFT matches module names; `lm_head` never), and freezes every other parameter
    /// of the tree, as peft's get_peft_model. Returns the adapted layers' keys.
    @discardableResult
    public static func apply(to module: Module, config: LoRAConfig, generator: inout RandomGenerator) throws -> [String] {
        try config.validate()
        let layers = module.namedModules().compactMap { entry -> (key: String, linear: Linear)? in
            guard let linear = entry.module as? Linear, !isInsideLoRAPair(entry.key), !isOutputHead(entry.key),
                  config.targets(entry.key) else { return nil }
            return (entry.key, linear)
        }
        guard !layers.isEmpty else {
            let sample = module.namedModules().filter { $0.module is Linear }.prefix(5).map(\.key)
            throw LoRAError("target_modules \(config.targetModules) matches no Linear layer (Linear layers look like: \(sample.joined(separator: ", ")))")
        }
        if let already = layers.first(where: { $0.linear.hasLoRA }) {
            throw LoRAError("\(already.key) already has a LoRA adapter")
        }
        module.freeze()
        for (key, linear) in layers {
            linear.attachLoRA(rank: try config.rank(for: key), alpha: Float(try config.alpha(for: key)),
                              useRSLoRA: config.useRSLoRA, dropout: Float(config.loraDropout),
                              initialization: config.initLoRAWeights, generator: &generator)
        }
        return layers.map(\.key)
    }

    /// The layers of `module` that carry LoRA, with their keys.
    public static func adaptedLayers(of module: Module) -> [(key: String, linear: Linear)] {
        module.namedModules().compactMap { entry in
            (entry.module as? Linear).flatMap { $0.hasLoRA ? (entry.key, $0) : nil }
        }
    }

    /// Folds every LoRA update of the tree into its base weight (see `Linear.mergeLoRA`).
    public static func merge(in module: Module) { for (_, linear) in adaptedLayers(of: module) { linear.mergeLoRA() } }

    /// Undoes `merge(in:)`.
    public static func unmerge(in module: Module) { for (_, linear) in adaptedLayers(of: module) { linear.unmergeLoRA() } }

    /// Removes every LoRA pair (after `merge(in:)` this is peft's merge_and_unload).
    public static func detach(from module: Module) { for (_, linear) in adaptedLayers(of: module) { linear.detachLoRA() } }

    /// The LoRA weights of `module` under their PEFT keys (`keyPrefix` + layer key + `.lora_A.weight`).
    public static func stateDictionary(of module: Module, keyPrefix: String = peftKeyPrefix) -> [(key: String, tensor: Tensor)] {
        adaptedLayers(of: module).flatMap { key, linear in
            [("\(keyPrefix)\(key).lora_A.weight", linear.loraA!.weight), ("\(keyPrefix)\(key).lora_B.weight", linear.loraB!.weight)]
        }
    }

    /// Writes `directory`/adapter_model.safetensors (F32, PEFT's keys, metadata {"format": "pt"} as
    /// peft writes) and `directory`/adapter_config.json, creating the folder. Every adapted layer's
    /// rank must be the one `config` gives it, so peft rebuilds the same layers.
    public static func saveAdapter(of module: Module, config: LoRAConfig, to directory: String,
                                   keyPrefix: String = peftKeyPrefix) throws {
        try config.validate()
        let layers = adaptedLayers(of: module)
        guard !layers.isEmpty else { throw LoRAError("cannot save a LoRA adapter to \(directory): the module has no LoRA layers") }
        for (key, linear) in layers {
            let expected = try config.rank(for: key)
            guard linear.loraRank == expected else {
                throw LoRAError("cannot save to \(directory): \(key) has rank \(linear.loraRank!) but the config gives it \(expected) (r / rank_pattern)")
            }
            guard abs(linear.loraScale - (try config.scale(for: key))) <= 1e-6 * max(1, abs(linear.loraScale)) else {
                throw LoRAError("cannot save to \(directory): \(key) has scale \(linear.loraScale) but the config gives \(try config.scale(for: key)) (lora_alpha / alpha_pattern / use_rslora)")
            }
            if !config.targets(key) {
                throw LoRAError("cannot save to \(directory): \(key) carries LoRA but target_modules \(config.targetModules) does not select it, so peft would not load it")
            }
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let entries = stateDictionary(of: module, keyPrefix: keyPrefix).map { SafetensorsWriter.Entry($0.key, $0.tensor) }
        try SafetensorsWriter.write(entries, metadata: ["format": "pt"], to: directory + "/" + weightsFileName)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(config).write(to: URL(fileURLWithPath: directory + "/" + configFileName), options: .atomic)
    }

    /// Reads `directory`/adapter_config.json (see `LoRAConfig` for what is accepted).
    public static func loadConfig(from directory: String) throws -> LoRAConfig {
        let path = directory + "/" + configFileName
        guard FileManager.default.fileExists(atPath: path) else {
            throw LoRAError("\(directory) has no \(configFileName) (a PEFT adapter folder holds \(configFileName) and \(weightsFileName))")
        }
        return try ConfigFile.decode(LoRAConfig.self, from: URL(fileURLWithPath: path))
    }

    /// Loads a PEFT LoRA adapter folder into `module`, strictly: every stored key must be
    /// `keyPrefix` + a Linear layer's key (after `mapping`'s anchored renames, e.g. a model's
    /// checkpoint-layout table) + `.lora_A.weight` / `.lora_B.weight`, targeted by the config, with
    /// both halves present and shaped [r, in] / [out, r]. The layers named by the file get LoRA
    /// (scale and dropout from the config); one error lists every problem and names the file.
    /// Like peft, freezes the tree; the LoRA weights train only with `isTrainable`. Returns the
    /// adapted layers' keys in `module`.
    @discardableResult
    public static func loadAdapter(from directory: String, into module: Module, keyPrefix: String = peftKeyPrefix,
                                   mapping: KeyMapping = KeyMapping(), isTrainable: Bool = false,
                                   generator: RandomGenerator = RandomGenerator(seed: 0)) throws -> [String] {
        let config = try loadConfig(from: directory)
        let path = directory + "/" + weightsFileName
        guard FileManager.default.fileExists(atPath: path) else {
            let bin = FileManager.default.fileExists(atPath: directory + "/adapter_model.bin")
            throw LoRAError("\(directory) has no \(weightsFileName)" + (bin ? " (adapter_model.bin is a pickle, which Loom does not read; re-save with safe_serialization=True)" : ""))
        }
        let file = try SafetensorsFile(path: path)
        let linears = Dictionary(module.namedModules().compactMap { e in (e.module as? Linear).map { (e.key, $0) } },
                                 uniquingKeysWith: { a, _ in a })

        struct Pending { var peftName: String; var a: (key: String, shape: [Int])?; var b: (key: String, shape: [Int])? }
        var pending: [String: Pending] = [:]
        var order: [String] = []
        var problems = LoRALoadingProblems(file: path)
        for stored in file.names {
            guard stored.hasPrefix(keyPrefix) else {
                problems.unexpected.append("\(stored) (does not start with \"\(keyPrefix)\")"); continue
            }
            let inner = String(stored.dropFirst(keyPrefix.count))
            let half: String
            if inner.hasSuffix(".lora_A.weight") { half = "A" } else if inner.hasSuffix(".lora_B.weight") { half = "B" } else {
                problems.unexpected.append("\(stored) (not a lora_A/lora_B weight of a Linear layer; embeddings, biases, DoRA magnitudes and modules_to_save are not supported)")
                continue
            }
            let suffix = ".lora_\(half).weight"
            let peftName = String(inner.dropLast(suffix.count))
            guard let mapped = mapping.moduleKey(for: inner) else { continue }
            guard mapped.hasSuffix(suffix) else {
                problems.unexpected.append("\(stored) (renamed to \(mapped), which is not a LoRA weight)"); continue
            }
            let layerKey = String(mapped.dropLast(suffix.count))
            guard linears[layerKey] != nil else {
                problems.unexpected.append("\(stored) (the model has no Linear layer \(layerKey))"); continue
            }
            guard !isInsideLoRAPair(layerKey) else { problems.unexpected.append("\(stored) (\(layerKey) is itself part of a LoRA pair)"); continue }
            guard config.targets(peftName) else {
                problems.unexpected.append("\(stored) (\(peftName) is not selected by target_modules \(config.targetModules))"); continue
            }
            let info = file.info(stored)!
            if pending[layerKey] == nil { order.append(layerKey); pending[layerKey] = Pending(peftName: peftName) }
            if let earlier = half == "A" ? pending[layerKey]!.a : pending[layerKey]!.b {
                problems.other.append("\(stored) and \(earlier.key) both load into \(layerKey).lora_\(half).weight"); continue
            }
            if half == "A" { pending[layerKey]!.a = (stored, info.shape) } else { pending[layerKey]!.b = (stored, info.shape) }
        }

        var plan: [(key: String, linear: Linear, rank: Int, alpha: Double, a: String, b: String)] = []
        for layerKey in order {
            let entry = pending[layerKey]!, linear = linears[layerKey]!
            guard let a = entry.a, let b = entry.b else {
                let have = entry.a?.key ?? entry.b!.key
                problems.missing.append("\(keyPrefix)\(entry.peftName).lora_\(entry.a == nil ? "A" : "B").weight (its pair \(have) is stored)")
                continue
            }
            let rank: Int, alpha: Double
            do { rank = try config.rank(for: entry.peftName); alpha = try config.alpha(for: entry.peftName) } catch {
                problems.other.append("\(error)"); continue
            }
            if linear.hasLoRA { problems.other.append("\(layerKey) already has a LoRA adapter"); continue }
            var ok = true
            for (key, shape, expected) in [(a.key, a.shape, [rank, linear.inFeatures]), (b.key, b.shape, [linear.outFeatures, rank])] where shape != expected {
                problems.misshaped.append("\(key): stored \(describe(shape)), expected \(describe(expected)) (r = \(rank), layer \(describe(linear.weight.shape)))")
                ok = false
            }
            if ok { plan.append((layerKey, linear, rank, alpha, a.key, b.key)) }
        }
        if plan.isEmpty && problems.isEmpty { problems.other.append("the file holds no LoRA weights") }
        guard problems.isEmpty else { throw LoRAError(problems.description) }

        // Read every value before touching the module, so a bad file leaves it unchanged.
        let values = try plan.map { (a: try file.tensor($0.a), b: try file.tensor($0.b)) }
        module.freeze()
        var generator = generator
        for (item, value) in zip(plan, values) {
            item.linear.attachLoRA(rank: item.rank, alpha: Float(item.alpha), useRSLoRA: config.useRSLoRA,
                                   dropout: Float(config.loraDropout), initialization: .kaimingUniform, generator: &generator)
            for (source, target) in [(value.a, item.linear.loraA!.weight), (value.b, item.linear.loraB!.weight)] {
                Kernels.copy(source, into: target)
                target.requiresGradient = isTrainable
            }
        }
        return plan.map(\.key)
    }

    /// Layers inside a LoRA pair (`….lora_A`, `….lora_B`) are never adapted themselves.
    static func isInsideLoRAPair(_ key: String) -> Bool {
        let last = key.split(separator: ".").last.map(String.init) ?? key
        return last == "lora_A" || last == "lora_B"
    }

    /// `apply` never adapts the output head (a stored adapter that does is still loaded).
    static func isOutputHead(_ key: String) -> Bool { key == "lm_head" || key.hasSuffix(".lm_head") }
}

/// A LoRA adapter that cannot be applied, saved or loaded; the message names the file and keys.
public struct LoRAError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Everything wrong with one adapter file, reported at once.
struct LoRALoadingProblems: CustomStringConvertible {
    var file: String
    var unexpected: [String] = []
    var missing: [String] = []
    var misshaped: [String] = []
    var other: [String] = []

    var isEmpty: Bool { unexpected.isEmpty && missing.isEmpty && misshaped.isEmpty && other.isEmpty }

    var description: String {
        var lines = ["cannot load LoRA adapter \(file):"]
        func list(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines.append("\(items.count) \(title):")
            lines += items.prefix(20).map { "  \($0)" }
            if items.count > 20 { lines.append("  … and \(items.count - 20) more") }
        }
        list("unexpected keys", unexpected)
        list("missing keys", missing)
        list("mis-shaped keys", misshaped)
        list("other problems", other)
        return lines.joined(separator: "\n")
    }
}
