extension Tensor {
    /// Reverse-mode differentiation from this tensor. With no `seed` the tensor must hold one element
    /// (a loss) and the seed is 1. Gradients accumulate into the `grad` of every reachable leaf with
    /// `requiresGradient` (across calls, until `zeroGradient()`); the graph is released afterwards
    /// unless `retainGraph`.
    public func backward(seed: Tensor? = nil, retainGraph: Bool = false) {
        let seed = seed ?? {
            precondition(count == 1, "backward() without a seed needs a scalar, shape is \(describe(shape))")
            return Tensor(repeating: 1, shape: shape)
        }()
        precondition(seed.shape == shape, "seed shape \(describe(seed.shape)) differs from \(describe(shape))")
        if gradNode == nil {
            if requiresGradient { accumulateLeafGradient(seed) }
            return
        }

        // Collect the recorded tensors reachable from here, then replay the tape backwards.
        var recorded: [Tensor] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [Tensor] = [self]
        while let tensor = stack.popLast() {
            guard let node = tensor.gradNode, seen.insert(ObjectIdentifier(tensor)).inserted else { continue }
            recorded.append(tensor)
            for input in node.inputs where input.gradNode != nil { stack.append(input) }
        }
        recorded.sort { $0.gradNode!.sequence > $1.gradNode!.sequence }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        for tensor in recorded {
            let node = tensor.gradNode!
            guard let outputGrad = pending.removeValue(forKey: ObjectIdentifier(tensor)),
                  let backwardFn = node.backward else { continue }
            let inputGrads = OpProfile.timed("backward " + node.op) { withoutGradients { backwardFn(outputGrad) } }
            precondition(inputGrads.count == node.inputs.count, "\(node.op): backward returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
            for (input, grad) in zip(node.inputs, inputGrads) {
                guard let grad, input.needsGradient else { continue }
                precondition(grad.shape == input.shape,
                             "\(node.op): gradient \(describe(grad.shape)) for input \(describe(input.shape))")
                if input.gradNode != nil {
                    let key = ObjectIdentifier(input)
                    pending[key] = pending[key].map { sum in OpProfile.timed("backward accumulate") { Kernels.added(sum, grad) } } ?? grad
                } else {
                    OpProfile.timed("backward leaf gradient") { input.accumulateLeafGradient(grad) }
                }
            }
            if !retainGraph {
                node.backward = nil
                tensor.gradNode = nil
            }
        }
    }

    func accumulateLeafGradient(_ gradient: Tensor) {
        if let sink = GradientSink.current, !sink.isLocal(self) {
            sink.accumulate(gradient, for: self)
            return
        }
        if let grad {
            Kernels.addInPlace(grad, gradient)
        } else {
            grad = Kernels.copyStrided(gradient)
        }
    }

    /// Drops the accumulated gradient (the buffer is reallocated on the next backward).
    public func zeroGradient() { grad = nil }
}
