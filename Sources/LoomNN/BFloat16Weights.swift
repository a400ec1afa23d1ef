import LoomTensor

/// What `Module.keepFrozenWeightsInBFloat16()` converted.
public struct BFloat16Conversion: Equatable, CustomStringConvertible {
    /// Weight tensors now kept in bfloat16 (a weight shared by two modules counts once).
    public var tensors = 0
    /// Their elements.
    public var elements = 0
    /// Float32 memory released: 2 bytes per element.
    public var bytesSaved: Int { elements * 2 }

    public var description: String {
        "\(tensors) frozen weight\(tensors == 1 ? "" : "s") (\(elements) values) kept in bfloat16, \(bytesSaved / 1_048_576) MiB saved"
    }
}

extension Module {
    /// Keeps the frozen weight matrices of every `Linear` (LoRA's base layers included) and `Embedding`
    /// of the tree in bfloat16, rounded to nearest even: half their memory. `linear` and `embedding`
    /// widen them to Float32 on use, forward and backward, so activations and gradients stay Float32;
    /// the products differ from the Float32 weights' only by the weights' rounding (about 2⁻⁹ relative).
    /// Biases, norms, convolutions and trainable weights stay Float32. A weight made trainable later
    /// is widened back (its rounded values). Weights already in bfloat16 are left as they are.
    @discardableResult
    public func keepFrozenWeightsInBFloat16() -> BFloat16Conversion {
        var result = BFloat16Conversion()
        for (_, module) in namedModules() {
            let weight: Tensor
            if let linear = module as? Linear { weight = linear.weight } else if let table = module as? Embedding { weight = table.weight } else { continue }
            guard !weight.requiresGradient, !weight.isBFloat16, weight.rank == 2 else { continue }
            weight.keepInBFloat16()
            result.tensors += 1
            result.elements += weight.storage.count
        }
        // The Float32 buffers went back to malloc; hand its free pages back, or they stay resident.
        if result.tensors > 0 { Heap.releaseFreePages() }
        return result
    }
}
