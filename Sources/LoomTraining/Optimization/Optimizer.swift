import LoomTensor

/// What a trainer and a `LearningRateScheduler` need from any optimizer.
///
/// Optimizer state is keyed by a parameter's *flat index*: its position when the groups' parameter
/// lists are concatenated in order, exactly as torch numbers `optimizer.state_dict()["state"]`.
/// That is why the groups' parameter lists are fixed once an optimizer is made; only their
/// learning rates change.
public protocol Optimizer: AnyObject {
    /// The groups in the order given at construction; their `learningRate` is the base rate.
    var parameterGroups: [ParameterGroup] { get }

    /// The learning rate each group's next update uses, in group order (starts at the base rates).
    var learningRates: [Double] { get set }

    /// One update of every parameter that has a gradient; parameters whose `grad` is nil are skipped.
    func step()

    /// Drops every parameter's gradient (torch's `zero_grad(set_to_none=True)`).
    func zeroGradients()

    /// The state as named tensors, ready for a safetensors file (see each optimizer for its keys).
    func exportState() -> [String: Tensor]

    /// Restores state written by `exportState()` of an optimizer over the same parameter list.
    func importState(_ tensors: [String: Tensor]) throws
}

extension Optimizer {
    /// Every parameter in flat-index order.
    public var parameters: [Tensor] { parameterGroups.flatMap(\.parameters) }

    public func zeroGradients() {
        for group in parameterGroups {
            for parameter in group.parameters { parameter.zeroGradient() }
        }
    }
}

/// A problem in optimizer state a user's checkpoint can cause; the message names the key and shapes.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checks shared by the optimizers: group validation, gradient shapes, and shape-checked state I/O.
enum OptimizerSupport {
    /// Learning rates must be finite and non-negative, as torch checks `0.0 <= lr`.
    static func validateGroups(_ groups: [ParameterGroup], optimizer: String) {
        var seen = Set<ObjectIdentifier>()
        for (index, group) in groups.enumerated() {
            precondition(group.learningRate >= 0 && group.learningRate.isFinite,
                         "\(optimizer): group \(index) has learning rate \(group.learningRate)")
            precondition(group.weightDecay >= 0, "\(optimizer): group \(index) has weight decay \(group.weightDecay)")
            for parameter in group.parameters {
                precondition(parameter.isContiguous,
                             "\(optimizer): parameter \(parameter.name ?? "?") \(describe(parameter.shape)) is not contiguous")
                precondition(seen.insert(ObjectIdentifier(parameter)).inserted,
                             "\(optimizer): parameter \(parameter.name ?? "?") \(describe(parameter.shape)) appears in more than one place")
            }
        }
    }

    /// Gradients come from `backward()` contiguous and parameter-shaped; anything else is a caller's bug.
    /// Visits every parameter that has a gradient (checked), with its group, the group's current
    /// learning rate and its flat index — the walk every optimizer's `step()` makes.
    static func forEachGradient(of optimizer: any Optimizer, name: String,
                                _ body: (_ parameter: Tensor, _ grad: Tensor, _ group: ParameterGroup, _ lr: Double, _ flatIndex: Int) -> Void) {
        var flatIndex = 0
        for (groupIndex, group) in optimizer.parameterGroups.enumerated() {
            let lr = optimizer.learningRates[groupIndex]
            for parameter in group.parameters {
                defer { flatIndex += 1 }
                guard let grad = parameter.grad else { continue }
                checkGradient(grad, of: parameter, optimizer: name)
                body(parameter, grad, group, lr, flatIndex)
            }
        }
    }

    static func checkGradient(_ grad: Tensor, of parameter: Tensor, optimizer: String) {
        precondition(grad.shape == parameter.shape && grad.isContiguous,
                     "\(optimizer): gradient \(describe(grad.shape)) (strides \(describe(grad.strides))) for parameter \(parameter.name ?? "?") \(describe(parameter.shape))")
    }

    /// Checks that every key in `tensors` is one of `expected` (key → required shape) and reports all
    /// unknown and mis-shaped keys in one error.
    static func checkKeys(_ tensors: [String: Tensor], expected: [String: [Int]], optimizer: String) throws {
        var problems: [String] = []
        for key in tensors.keys.sorted() {
            guard let shape = expected[key] else {
                problems.append("unexpected key \(key)")
                continue
            }
            let actual = tensors[key]!.shape
            if actual != shape {
                problems.append("\(key) has shape \(describe(actual)), expected \(describe(shape))")
            }
        }
        if !problems.isEmpty {
            throw OptimizerStateError("\(optimizer) state does not fit its parameters: " + problems.joined(separator: "; "))
        }
    }

    /// Steps are stored as one-element Float32 tensors, like torch's `state["step"]`; Float32 holds
    /// every integer up to 2^24 exactly, far beyond any fine-tuning run.
    static func stepTensor(_ step: Int) -> Tensor { Tensor(shape: [], scalars: [Float(step)]) }

    static func step(from tensor: Tensor, key: String, optimizer: String) throws -> Int {
        let value = tensor.item
        guard value.isFinite, value >= 0, value == value.rounded(), value <= 16_777_216 else {
            throw OptimizerStateError("\(optimizer) state: \(key) holds \(value), not a step count")
        }
        return Int(value)
    }
}
