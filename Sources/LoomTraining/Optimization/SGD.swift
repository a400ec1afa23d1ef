import LoomTensor

/// Stochastic gradient descent exactly as torch's `torch.optim.SGD` (single-tensor path,
/// `maximize=False`): coupled weight decay, then momentum with dampening, optionally Nesterov.
///
/// Per element, in Float32 and torch's order (scalars rounded from Double):
/// ```
/// d = g + wd·p                      # grad.add(param, alpha=weight_decay), when wd ≠ 0
/// b = d  (first update)  or  b = momentum·b + (1 − dampening)·d
/// d = d + momentum·b  (nesterov)  or  d = b
/// p = p + (−lr)·d                   # param.add_(grad, alpha=-lr)
/// ```
/// Momentum, dampening and Nesterov are optimizer-wide; learning rate and weight decay come from
/// each group. Parameters whose `grad` is nil are skipped and their momentum buffer is untouched.
public final class SGD: Optimizer {
    public let parameterGroups: [ParameterGroup]
    public var learningRates: [Double] {
        didSet { precondition(learningRates.count == parameterGroups.count,
                              "SGD: \(learningRates.count) learning rates for \(parameterGroups.count) groups") }
    }
    public let momentum: Double
    public let dampening: Double
    public let isNesterov: Bool

    /// Momentum buffers per flat parameter index; nil before the first update or when momentum is 0.
    public private(set) var momentumBuffers: [Tensor?]

    public init(_ parameterGroups: [ParameterGroup], momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false) {
        precondition(momentum >= 0, "SGD: momentum \(momentum) must be non-negative")
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "SGD: Nesterov momentum requires a momentum and zero dampening (as torch checks)")
        OptimizerSupport.validateGroups(parameterGroups, optimizer: "SGD")
        self.parameterGroups = parameterGroups
        self.learningRates = parameterGroups.map(\.learningRate)
        self.momentum = momentum
        self.dampening = dampening
        self.isNesterov = nesterov
        self.momentumBuffers = Array(repeating: nil, count: parameterGroups.reduce(0) { $0 + $1.parameters.count })
    }

    public func step() {
        OptimizerSupport.forEachGradient(of: self, name: "SGD") { parameter, grad, group, lr, flatIndex in
            let isFirst = momentumBuffers[flatIndex] == nil
            let buffer = momentum != 0 ? (momentumBuffers[flatIndex] ?? Tensor(zeros: parameter.shape)) : nil
            update(parameter, grad: grad, buffer: buffer, isFirstUpdate: isFirst, lr: lr, weightDecay: group.weightDecay)
            if let buffer { momentumBuffers[flatIndex] = buffer }
        }
    }

    private func update(_ parameter: Tensor, grad: Tensor, buffer: Tensor?, isFirstUpdate: Bool, lr: Double, weightDecay: Double) {
        let wd = Float(weightDecay)
        let mu = Float(momentum)
        let keep = Float(1 - dampening)
        let negLR = Float(-lr)
        let applyDecay = weightDecay != 0
        let nesterov = isNesterov
        let g = UnsafePointer(grad.pointer), p = parameter.pointer
        let b = buffer?.pointer
        Threads.parallelFor(parameter.count, grain: 32_768) { range in
            for i in range {
                var d = g[i]
                if applyDecay { d = d + wd * p[i] }
                if let b {
                    // torch clones the first (decayed) gradient into the buffer without dampening.
                    b[i] = isFirstUpdate ? d : b[i] * mu + keep * d
                    d = nesterov ? d + mu * b[i] : b[i]
                }
                p[i] = p[i] + negLR * d
            }
        }
        if let buffer { keepAlive(buffer) }
        keepAlive(grad, parameter)
    }

    // MARK: State for checkpoints

    /// Keys follow torch's `state_dict()["state"]`: `state.<flat index>.momentum_buffer`, for
    /// parameters that have one. Tensors are copies.
    public func exportState() -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (index, buffer) in momentumBuffers.enumerated() {
            if let buffer { tensors["state.\(index).momentum_buffer"] = buffer.copied() }
        }
        return tensors
    }

    /// Replaces all momentum buffers with `tensors` (copied); throws naming unknown or mis-shaped keys.
    public func importState(_ tensors: [String: Tensor]) throws {
        let parameters = self.parameters
        var expected: [String: [Int]] = [:]
        for (index, parameter) in parameters.enumerated() { expected["state.\(index).momentum_buffer"] = parameter.shape }
        try OptimizerSupport.checkKeys(tensors, expected: expected, optimizer: "SGD")
        momentumBuffers = parameters.indices.map { tensors["state.\($0).momentum_buffer"]?.copied() }
    }
}
