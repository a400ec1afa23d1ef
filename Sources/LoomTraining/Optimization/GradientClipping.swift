import Foundation
import LoomTensor

/// Scales all gradients so their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_(parameters, max_norm)` does (SPECS 8.4), and returns the norm
/// before clipping. Parameters whose `grad` is nil are ignored; with none, returns 0 and does nothing.
///
/// Everything runs in Float32 in torch's CPU order so the norm, the coefficient and the scaled
/// gradients match bit for bit:
/// - each gradient's norm is `vector_norm`'s 8-lane reduction (see `float32Norm`);
/// - the total is the same reduction over the per-tensor norms (`vector_norm(stack(norms))`);
/// - `coef = (1 / (total + 1e-6)) · maxNorm`, because Python's `max_norm / tensor` is
///   `tensor.reciprocal() * max_norm`; clamped to at most 1 and always applied.
/// NaN and infinity propagate (torch's `error_if_nonfinite=False`). Only the L2 norm is offered.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double) -> Double {
    let grads = parameters.compactMap(\.grad)
    if grads.isEmpty { return 0 }
    let norms = grads.map { grad in grad.withUnsafeBufferPointer { float32Norm($0) } }
    let total = norms.withUnsafeBufferPointer { float32Norm($0) }

    var coefficient = (Float(1) / (total + Float(1e-6))) * Float(maxNorm)
    if coefficient > 1 { coefficient = 1 }  // torch.clamp(max=1.0); keeps NaN
    for grad in grads {
        grad.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] *= coefficient }
        }
    }
    return Double(total)
}

/// L2 norm accumulated in Float32 the way ATen's CPU `vector_norm` does for contiguous Float32 data
/// (`norm_kernel_tensor_iterator_impl`, reduce-last-dim path, 8-lane vectors): eight running sums of
/// squares, added together lane 0 to 7, then the tail elements one by one, then `sqrt`.
///
/// Float32 accumulation is for bitwise parity with torch, not accuracy: over n elements it carries a
/// relative error near n/8 · 2⁻²⁴ at worst, irrelevant for a clipping threshold.
/// `Reference.doubleNorm` in the tests is the accurate naive twin.
func float32Norm(_ values: UnsafeBufferPointer<Float>) -> Float {
    let n = values.count
    let full = n - n % 8
    var lanes = SIMD8<Float>(repeating: 0)
    if let base = values.baseAddress {
        let raw = UnsafeRawPointer(base)
        var d = 0
        while d < full {
            let x = raw.loadUnaligned(fromByteOffset: d * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
            lanes = lanes + x * x  // separate multiply and add: torch's non-FMA build rounds twice
            d += 8
        }
    }
    var sum = lanes[0]
    for lane in 1..<8 { sum = sum + lanes[lane] }
    for i in full..<n { sum = sum + values[i] * values[i] }
    return sum.squareRoot()
}
