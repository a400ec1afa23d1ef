import LoomTensor

extension Module {
    /// Fills every parameter as a freshly constructed Hugging Face model would: linear and embedding
    /// weights (and conv kernels) ~ N(0, std), biases 0, norm weights 1. For models built from a
    /// config rather than loaded (benchmarks, tests, new connectors).
    public func initializeParameters(std: Float = 0.02, generator: inout RandomGenerator) {
        for (_, module) in namedModules() {
            for (key, tensor) in module.ownParameters {
                let values: [Float]
                if module is LayerNorm || module is RMSNorm {
                    values = [Float](repeating: key == "weight" ? 1 : 0, count: tensor.count)
                } else if key == "bias" {
                    values = [Float](repeating: 0, count: tensor.count)
                } else {
                    values = generator.normal(count: tensor.count).map { $0 * std }
                }
                tensor.withUnsafeMutableBufferPointer { buffer in
                    for i in 0..<values.count { buffer[i] = values[i] }
                }
            }
        }
    }
}
