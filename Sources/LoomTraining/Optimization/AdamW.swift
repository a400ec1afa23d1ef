import CLoomVector
import Foundation
import LoomTensor

/// AdamW exactly as torch's `torch.optim.AdamW` (single-tensor path, `amsgrad=False`,
/// `maximize=False`), see SPECS 8.2.
///
/// Host scalars (decay factor, bias corrections, step size) are computed in Double, as Python does,
/// and rounded to Float32 where they meet a tensor. Per element the update runs the same Float32
/// operations in the same order as ATen's CPU kernels built without FMA (`ATEN_CPU_CAPABILITY=default`),
/// so results match PyTorch bit for bit except where torch's MKL `sqrt` is 1 ulp off (about 0.6% of
/// elements). AVX2/AVX-512 builds of torch fuse the multiply-adds, which moves results by about 1 ulp.
///
/// `amsgrad` is not implemented: no LLaVA-style recipe uses it.
public final class AdamW: Optimizer {
    public let parameterGroups: [ParameterGroup]
    public var learningRates: [Double] {
        didSet { precondition(learningRates.count == parameterGroups.count,
                              "AdamW: \(learningRates.count) learning rates for \(parameterGroups.count) groups") }
    }
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double

    /// Moments and step count of one parameter, created on its first update (torch's lazy state).
    public struct ParameterState {
        /// Updates this parameter has received (torch's `state["step"]`).
        public var step: Int
        /// First moment `m` (torch's `exp_avg`), same shape as the parameter.
        public var expAvg: Tensor
        /// Second moment `v` (torch's `exp_avg_sq`), same shape as the parameter.
        public var expAvgSq: Tensor
    }

    /// Per flat parameter index; nil until that parameter's first update.
    public private(set) var states: [ParameterState?]

    /// Torch's defaults for betas and eps. Weight decay comes from each group (HF passes 0.0 unless
    /// the recipe sets it; torch's own default would be 0.01).
    public init(_ parameterGroups: [ParameterGroup], beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "AdamW: betas (\(beta1), \(beta2)) must lie in [0, 1)")
        precondition(epsilon >= 0, "AdamW: eps \(epsilon) must be non-negative")
        OptimizerSupport.validateGroups(parameterGroups, optimizer: "AdamW")
        self.parameterGroups = parameterGroups
        self.learningRates = parameterGroups.map(\.learningRate)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.states = Array(repeating: nil, count: parameterGroups.reduce(0) { $0 + $1.parameters.count })
    }

    public func step() {
        OptimizerSupport.forEachGradient(of: self, name: "AdamW") { parameter, grad, group, lr, flatIndex in
            var state = states[flatIndex] ?? ParameterState(
                step: 0, expAvg: Tensor(zeros: parameter.shape), expAvgSq: Tensor(zeros: parameter.shape))
            state.step += 1
            update(parameter, grad: grad, state: state, lr: lr, weightDecay: group.weightDecay)
            states[flatIndex] = state
        }
    }

    /// One parameter's update; the comments give torch's line for each Float32 operation.
    private func update(_ parameter: Tensor, grad: Tensor, state: ParameterState, lr: Double, weightDecay: Double) {
        // Host scalars, Double as in Python; `bias_correction2 ** 0.5` is C `pow`, not `sqrt`.
        let step = Double(state.step)
        let biasCorrection1 = 1 - pow(beta1, step)
        let biasCorrection2 = 1 - pow(beta2, step)
        let stepSize = lr / biasCorrection1
        let biasCorrection2Sqrt = pow(biasCorrection2, 0.5)

        // param.mul_(1 - lr * weight_decay); torch skips it when wd = 0, and multiplying by 1 is exact.
        let decayFactor = Float(1 - lr * weightDecay)
        let lerpWeight = Float(1 - beta1)                   // exp_avg.lerp_(grad, 1 - beta1)
        let lerpSmall = abs(lerpWeight) < 0.5
        let lerpComplement = Float(1) - lerpWeight          // ATen: opmath_t(1) - weight
        let b2 = Float(beta2)                               // exp_avg_sq.mul_(beta2)
        let oneMinusB2 = Float(1 - beta2)                   //   .addcmul_(grad, grad, value=1 - beta2)
        let bc2Sqrt = Float(biasCorrection2Sqrt)            // exp_avg_sq.sqrt() / bias_correction2_sqrt
        let eps = Float(epsilon)                            //   .add_(eps)
        let negStepSize = Float(-stepSize)                  // param.addcdiv_(exp_avg, denom, value=-step_size)

        let g = UnsafePointer(grad.pointer)
        let p = parameter.pointer, m = state.expAvg.pointer, v = state.expAvgSq.pointer
        // The same Float32 operations per element, four lanes at a time (square root and division are
        // correctly rounded per lane, and Swift does not contract into FMA): the bits of a scalar loop.
        typealias Lanes = SIMD4<Float>
        Threads.parallelFor(parameter.count, grain: 32_768) { range in
            @inline(__always) func lanes(_ pOld: Lanes, _ gi: Lanes, _ mOld: Lanes, _ vOld: Lanes) -> (p: Lanes, m: Lanes, v: Lanes) {
                let pi = pOld * decayFactor
                let mi = lerpSmall ? mOld + lerpWeight * (gi - mOld) : gi - (gi - mOld) * lerpComplement
                let vi = vOld * b2 + oneMinusB2 * gi * gi
                let denom = loom_sqrt4(vi) / bc2Sqrt + eps
                return (pi + negStepSize * mi / denom, mi, vi)
            }
            let rp = UnsafeMutableRawPointer(p), rm = UnsafeMutableRawPointer(m), rv = UnsafeMutableRawPointer(v)
            let rg = UnsafeRawPointer(g)
            var i = range.lowerBound
            while i + Lanes.scalarCount <= range.upperBound {
                let offset = i * MemoryLayout<Float>.stride
                let r = lanes(rp.loadUnaligned(fromByteOffset: offset, as: Lanes.self),
                              rg.loadUnaligned(fromByteOffset: offset, as: Lanes.self),
                              rm.loadUnaligned(fromByteOffset: offset, as: Lanes.self),
                              rv.loadUnaligned(fromByteOffset: offset, as: Lanes.self))
                rp.storeBytes(of: r.p, toByteOffset: offset, as: Lanes.self)
                rm.storeBytes(of: r.m, toByteOffset: offset, as: Lanes.self)
                rv.storeBytes(of: r.v, toByteOffset: offset, as: Lanes.self)
                i += Lanes.scalarCount
            }
            while i < range.upperBound {   // the last few, one per vector (the other lanes are zeros: finite)
                let r = lanes(Lanes(p[i], 0, 0, 0), Lanes(g[i], 0, 0, 0), Lanes(m[i], 0, 0, 0), Lanes(v[i], 0, 0, 0))
                (p[i], m[i], v[i]) = (r.p[0], r.m[0], r.v[0])
                i += 1
            }
        }
        keepAlive(grad, parameter, state.expAvg, state.expAvgSq)
    }

    // MARK: State for checkpoints

    /// Keys follow torch's `state_dict()["state"]`: `state.<flat index>.step` (a 0-d Float32 tensor),
    /// `state.<i>.exp_avg` and `state.<i>.exp_avg_sq` (the parameter's shape). Parameters not yet
    /// updated have no keys. Tensors are copies, so later steps do not change an exported state.
    /// Learning rates are not state: the scheduler recomputes them from the step count on resume.
    public func exportState() -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (index, state) in states.enumerated() {
            guard let state else { continue }
            tensors["state.\(index).step"] = OptimizerSupport.stepTensor(state.step)
            tensors["state.\(index).exp_avg"] = state.expAvg.copied()
            tensors["state.\(index).exp_avg_sq"] = state.expAvgSq.copied()
        }
        return tensors
    }

    /// Replaces all state with `tensors` (copied). Throws, naming every key, when a key is unknown, a
    /// shape differs from its parameter's, or a parameter has some of its three keys but not all.
    public func importState(_ tensors: [String: Tensor]) throws {
        let parameters = self.parameters
        var expected: [String: [Int]] = [:]
        for (index, parameter) in parameters.enumerated() {
            expected["state.\(index).step"] = []
            expected["state.\(index).exp_avg"] = parameter.shape
            expected["state.\(index).exp_avg_sq"] = parameter.shape
        }
        try OptimizerSupport.checkKeys(tensors, expected: expected, optimizer: "AdamW")

        var restored: [ParameterState?] = Array(repeating: nil, count: parameters.count)
        var incomplete: [String] = []
        for index in parameters.indices {
            let keys = ["state.\(index).step", "state.\(index).exp_avg", "state.\(index).exp_avg_sq"]
            let present = keys.compactMap { tensors[$0] }
            if present.isEmpty { continue }
            guard present.count == keys.count else {
                incomplete.append("parameter \(index) has \(keys.filter { tensors[$0] != nil }.joined(separator: ", ")) only")
                continue
            }
            let step = try OptimizerSupport.step(from: present[0], key: keys[0], optimizer: "AdamW")
            restored[index] = ParameterState(step: step, expAvg: present[1].copied(), expAvgSq: present[2].copied())
        }
        if !incomplete.isEmpty {
            throw OptimizerStateError("AdamW state is incomplete: " + incomplete.joined(separator: "; "))
        }
        states = restored
    }
}
