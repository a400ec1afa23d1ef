import LoomTensor

/// A node of a model: parameters and child modules stored under their checkpoint keys.
///
/// Declare children with `@Child` and weights with `@Parameter`; the key defaults to the property
/// name in snake_case (`selfAttn` → `self_attn`), or is given (`@Child("0")`). So the safetensors key
/// `model.layers.3.self_attn.q_proj.weight` is the Swift path `model.layers[3].selfAttn.qProj.weight`.
/// Arrays of modules get `.N` suffixes; nil optionals are absent.
open class Module {
    /// Training mode (dropout on). Set for the whole tree with `setTraining(_:)`.
    public private(set) var isTraining = false

    public init() {}

    /// Direct children, in declaration order, with their keys. Override for containers whose keys
    /// are not property names (PyTorch `Sequential` indices such as "0", "2").
    open var children: [(key: String, module: Module)] {
        Mirror(reflecting: self).allSlots.flatMap { ($0 as? ChildSlot)?.modules ?? [] }
    }

    /// Direct parameters (nil ones left out), in declaration order, with their keys.
    public var ownParameters: [(key: String, tensor: Tensor)] {
        Mirror(reflecting: self).allSlots.compactMap { slot in
            guard let p = slot as? ParameterSlot, let tensor = p.tensor else { return nil }
            return (p.key, tensor)
        }
    }

    /// Every parameter of the tree with its dotted checkpoint key.
    public func namedParameters() -> [(key: String, tensor: Tensor)] {
        var result = ownParameters
        for (key, child) in children {
            result += child.namedParameters().map { ("\(key).\($0.key)", $0.tensor) }
        }
        return result
    }

    /// Every module of the tree (this one as "") with its dotted key.
    public func namedModules() -> [(key: String, module: Module)] {
        var result: [(key: String, module: Module)] = [("", self)]
        for (key, child) in children {
            result += child.namedModules().map { ($0.key.isEmpty ? key : "\(key).\($0.key)", $0.module) }
        }
        return result
    }

    public var parameters: [Tensor] { namedParameters().map(\.tensor) }

    /// Parameters that will receive gradients.
    public var trainableParameters: [(key: String, tensor: Tensor)] {
        namedParameters().filter { $0.tensor.requiresGradient }
    }

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Stops training every parameter of the tree (no gradient buffers, no weight-gradient GEMMs).
    public func freeze() { for p in parameters { p.requiresGradient = false } }

    /// Makes every parameter of the tree trainable.
    public func unfreeze() { for p in parameters { p.requiresGradient = true } }

    /// True when this module's own training-mode forward draws random numbers from a generator it
    /// keeps without going through `ShardRandomStreams` (as LoRA dropout does): two shards of a batch
    /// would then share the generator, so the trainer runs such a model's batches whole
    /// (`sample_parallel` off). A custom module with dropout overrides this, or adopts the streams.
    open var isStochastic: Bool { false }

    /// True when some module of the tree is stochastic (`isStochastic`).
    public var containsStochasticModules: Bool { namedModules().contains { $0.module.isStochastic } }

    public func setTraining(_ training: Bool) {
        for (_, module) in namedModules() { module.isTraining = training }
    }
}

/// What `@Child` and `@Parameter` hold: a value given at the declaration or set in the initializer,
/// and an optional explicit key.
public struct SlotStorage<Value> {
    var value: Value?
    let key: String?

    func get(_ kind: String) -> Value {
        guard let value else { preconditionFailure("\(kind) \(key ?? "?") used before it was set") }
        return value
    }
}

/// Declares a child module (or an array / optional of them) stored under a key: the property name
/// in snake_case, or an explicit key (`@Child("0") var first: Linear`, then set `_first.wrappedValue`
/// in the initializer).
@propertyWrapper
public struct Child<Value>: ChildSlot {
    var slot: SlotStorage<Value>

    public init(wrappedValue: Value) { slot = SlotStorage(value: wrappedValue, key: nil) }
    public init(_ key: String) { slot = SlotStorage(value: nil, key: key) }

    public var wrappedValue: Value {
        get { slot.get("child") }
        set { slot.value = newValue }
    }

    var declaredKey: String? { slot.key }
    var value: Any { slot.value as Any }
}

/// Declares a parameter tensor (optional for biases), keyed like `Child`.
@propertyWrapper
public struct Parameter<Value>: ParameterSlot {
    var slot: SlotStorage<Value>

    public init(wrappedValue: Value) { slot = SlotStorage(value: wrappedValue, key: nil) }
    public init(_ key: String) { slot = SlotStorage(value: nil, key: key) }

    public var wrappedValue: Value {
        get { slot.get("parameter") }
        set { slot.value = newValue }
    }

    var declaredKey: String? { slot.key }
    var tensor: Tensor? { slot.value.flatMap { $0 as? Tensor } }
}

protocol Slot {
    var declaredKey: String? { get }
}

protocol ChildSlot: Slot {
    var value: Any { get }
}

protocol ParameterSlot: Slot {
    var tensor: Tensor? { get }
}

/// A slot found on an instance, with its resolved key.
private struct ResolvedChild: ChildSlot {
    let key: String
    let value: Any
    var declaredKey: String? { key }
}

extension ChildSlot {
    var key: String { declaredKey ?? "" }
    var modules: [(key: String, module: Module)] {
        if let module = value as? Module { return [(key, module)] }
        if let list = value as? [Module] { return list.enumerated().map { ("\(key).\($0.offset)", $0.element) } }
        return []
    }
}

extension ParameterSlot {
    var key: String { declaredKey ?? "" }
}

private struct ResolvedParameter: ParameterSlot {
    let key: String
    let tensor: Tensor?
    var declaredKey: String? { key }
}

extension Mirror {
    /// The `@Child` / `@Parameter` slots of an instance and its superclasses, keys resolved.
    var allSlots: [Slot] {
        var mirrors: [Mirror] = []
        var current: Mirror? = self
        while let m = current { mirrors.insert(m, at: 0); current = m.superclassMirror }
        return mirrors.flatMap { mirror in
            mirror.children.compactMap { child -> Slot? in
                guard let label = child.label, label.hasPrefix("_") else { return nil }
                let name = snakeCase(String(label.dropFirst()))
                if let slot = child.value as? ChildSlot {
                    return ResolvedChild(key: slot.declaredKey ?? name, value: slot.value)
                }
                if let slot = child.value as? ParameterSlot {
                    return ResolvedParameter(key: slot.declaredKey ?? name, tensor: slot.tensor)
                }
                return nil
            }
        }
    }
}

/// `selfAttn` → `self_attn`, `fc1` → `fc1`, `layerNorm1` → `layer_norm1`.
func snakeCase(_ name: String) -> String {
    var out = ""
    for ch in name {
        if ch.isUppercase {
            if !out.isEmpty { out.append("_") }
            out.append(Character(ch.lowercased()))
        } else {
            out.append(ch)
        }
    }
    return out
}
