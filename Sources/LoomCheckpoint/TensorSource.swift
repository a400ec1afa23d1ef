import LoomTensor

/// Anything tensors can be loaded from by name: one safetensors file or a sharded folder. Model
/// loaders take this so they need not care how the weights are split across files.
public protocol TensorSource: AnyObject {
    /// Tensor names in ascending order.
    var names: [String] { get }
    func info(_ name: String) -> TensorInfo?
    func tensor(_ name: String) throws -> Tensor
    func intTensor(_ name: String) throws -> IntTensor
}
