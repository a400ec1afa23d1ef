import XCTest
import LoomTensor
@testable import LoomTraining

/// Behaviour the fixtures do not pin down alone: skipped parameters, decay groups, state round trips.
final class OptimizerBehaviourTests: XCTestCase {
    private func parameter(_ values: [Float], name: String) -> Tensor {
        let tensor = Tensor(shape: [values.count], scalars: values)
        tensor.requiresGradient = true
        tensor.name = name
        return tensor
    }

    func testParametersWithoutGradientAreSkipped() {
        let a = parameter([1, -2, 3], name: "a"), b = parameter([0.5, 0.25], name: "b")
        let optimizer = AdamW([ParameterGroup(parameters: [a, b], learningRate: 0.1, weightDecay: 0.5)])
        a.grad = Tensor(shape: [3], scalars: [0.1, 0.2, -0.3])
        optimizer.step()
        XCTAssertEqual(b.scalars, [0.5, 0.25], "no grad: no update and no weight decay")
        XCTAssertNil(optimizer.states[1])
        XCTAssertNotEqual(a.scalars, [1, -2, 3])

        b.grad = Tensor(shape: [2], scalars: [1, 1])
        optimizer.step()
        XCTAssertEqual(optimizer.states[0]?.step, 2)
        XCTAssertEqual(optimizer.states[1]?.step, 1, "the step count is per parameter")

        optimizer.zeroGradients()
        XCTAssertNil(a.grad)
        XCTAssertNil(b.grad)
        let before = a.scalars + b.scalars
        optimizer.step()
        XCTAssertEqual(a.scalars + b.scalars, before)
        XCTAssertEqual(optimizer.states.map { $0?.step }, [2, 1])

        let sgdParameter = parameter([1, 2], name: "s")
        let sgd = SGD([ParameterGroup(parameters: [sgdParameter], learningRate: 0.1, weightDecay: 0.1)], momentum: 0.9)
        sgd.step()
        XCTAssertEqual(sgdParameter.scalars, [1, 2])
        XCTAssertNil(sgd.momentumBuffers[0])
    }

    func testWeightDecayAppliesOnlyToItsGroup() {
        let names = [
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias",
            "model.layers.0.input_layernorm.weight", "model.norm.weight", "mm_projector.0.weight", "mm_projector.0.bias",
            "vision_tower.vision_model.pre_layrnorm.weight", "vision_tower.vision_model.encoder.layers.0.layer_norm1.weight",
            "resampler.norm_latents.weight", "lm_head.weight", "model.embed_tokens.weight",
        ]
        let exempt = names.filter(ParameterGroup.isNoDecayParameterName)
        XCTAssertEqual(exempt, [
            "model.layers.0.self_attn.q_proj.bias", "model.layers.0.input_layernorm.weight", "model.norm.weight",
            "mm_projector.0.bias", "vision_tower.vision_model.pre_layrnorm.weight",
            "vision_tower.vision_model.encoder.layers.0.layer_norm1.weight", "resampler.norm_latents.weight",
        ])

        let named = names.enumerated().map { index, name in (name: name, parameter: parameter([1, -1, 2], name: name)) }
        named[10].parameter.requiresGradient = false  // frozen embeddings stay out of both groups
        let groups = ParameterGroup.splitByWeightDecay(named, learningRate: 0.01, weightDecay: 0.1)
        XCTAssertEqual(groups.map(\.name), ["decay", "no_decay"])
        XCTAssertEqual(groups[0].parameters.map { $0.name! }, [names[0], names[4], names[9]])
        XCTAssertEqual(groups[1].parameters.map { $0.name! }, exempt)
        XCTAssertEqual(groups.map(\.weightDecay), [0.1, 0])

        // With zero gradients Adam's update is exactly 0, so only decoupled decay moves a parameter.
        let optimizer = AdamW(groups)
        for p in optimizer.parameters { p.grad = Tensor(zeros: p.shape) }
        optimizer.step()
        let factor = Float(1 - 0.01 * 0.1)
        for p in groups[0].parameters { XCTAssertEqual(p.scalars, [1 * factor, -1 * factor, 2 * factor], p.name!) }
        for p in groups[1].parameters { XCTAssertEqual(p.scalars, [1, -1, 2], p.name!) }

        // A custom rule replaces the default.
        let custom = ParameterGroup.splitByWeightDecay(named, learningRate: 0.01, weightDecay: 0.1) { $0.hasPrefix("mm_") }
        XCTAssertEqual(custom[1].parameters.map { $0.name! }, [names[4], names[5]])
    }

    /// Runs `updates` steps with gradients derived from `seed` and the update index.
    private func train(_ optimizer: any Optimizer, scheduler: LearningRateScheduler, updates: Range<Int>) {
        for k in updates {
            var generator = RandomGenerator(seed: UInt64(100 + k))
            for (index, p) in optimizer.parameters.enumerated() where !(k == 1 && index == 2) {
                p.grad = Tensor(shape: p.shape, scalars: generator.normal(count: p.count))
            }
            clipGradientNorm(optimizer.parameters, maxNorm: 1)
            optimizer.step()
            scheduler.step()
            optimizer.zeroGradients()
        }
    }

    private func makeModel(seed: UInt64) -> [ParameterGroup] {
        var generator = RandomGenerator(seed: seed)
        let shapes = [[3, 5], [7], [2], [1, 4]]
        let tensors = shapes.map { Tensor(shape: $0, scalars: generator.normal(count: $0.reduce(1, *))) }
        return [ParameterGroup(parameters: Array(tensors[0..<2]), learningRate: 0.01, weightDecay: 0.1),
                ParameterGroup(parameters: Array(tensors[2...]), learningRate: 0.02)]
    }

    private func assertStateRoundTripContinuesIdentically(_ make: ([ParameterGroup]) -> any Optimizer) throws {
        let schedule = LearningRateSchedule(kind: .cosine, totalSteps: 8, warmupSteps: 2)
        let original = make(makeModel(seed: 1))
        train(original, scheduler: LearningRateScheduler(optimizer: original, schedule: schedule), updates: 0..<4)

        // "Checkpoint": parameter values and optimizer state; resume into fresh objects.
        let saved = original.exportState()
        let resumedGroups = makeModel(seed: 999)
        for (target, source) in zip(resumedGroups.flatMap(\.parameters), original.parameters) {
            target.withUnsafeMutableBufferPointer { buffer in
                for (i, value) in source.scalars.enumerated() { buffer[i] = value }
            }
        }
        let resumed = make(resumedGroups)
        try resumed.importState(saved)

        let originalScheduler = LearningRateScheduler(optimizer: original, schedule: schedule, step: 4)
        train(original, scheduler: originalScheduler, updates: 4..<8)
        let resumedScheduler = LearningRateScheduler(optimizer: resumed, schedule: schedule, step: 4)
        train(resumed, scheduler: resumedScheduler, updates: 4..<8)
        XCTAssertEqual(resumed.parameters.map(\.scalars), original.parameters.map(\.scalars))
        let a = original.exportState(), b = resumed.exportState()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for key in a.keys { XCTAssertEqual(a[key]!.scalars, b[key]!.scalars, key) }
        XCTAssertEqual(saved.count, a.count, "the export is a snapshot that later steps do not change")
    }

    func testAdamWStateRoundTripContinuesIdentically() throws {
        try assertStateRoundTripContinuesIdentically { AdamW($0, beta1: 0.9, beta2: 0.95) }
        let optimizer = AdamW(makeModel(seed: 3))
        for p in optimizer.parameters { p.grad = Tensor(repeating: 0.5, shape: p.shape) }
        optimizer.step()
        let keys = optimizer.exportState().keys.sorted()
        XCTAssertEqual(keys.count, 12)
        XCTAssertTrue(keys.contains("state.3.exp_avg_sq"))
        XCTAssertEqual(optimizer.exportState()["state.0.step"]?.item, 1)
    }

    func testSGDStateRoundTripContinuesIdentically() throws {
        try assertStateRoundTripContinuesIdentically { SGD($0, momentum: 0.9, nesterov: true) }
    }

    func testImportRejectsStateThatDoesNotFit() {
        let optimizer = AdamW(makeModel(seed: 3))
        for p in optimizer.parameters { p.grad = Tensor(repeating: 0.5, shape: p.shape) }
        optimizer.step()
        var state = optimizer.exportState()
        let target = AdamW(makeModel(seed: 4))

        state["state.1.exp_avg"] = Tensor(zeros: [8])
        state["state.9.step"] = Tensor(scalar: 1)
        XCTAssertThrowsError(try target.importState(state)) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("state.1.exp_avg has shape [8], expected [7]"), message)
            XCTAssertTrue(message.contains("unexpected key state.9.step"), message)
        }
        var partial = optimizer.exportState()
        partial["state.2.exp_avg_sq"] = nil
        XCTAssertThrowsError(try target.importState(partial)) { error in
            XCTAssertTrue(String(describing: error).contains("parameter 2"), String(describing: error))
        }
        XCTAssertNil(target.states[0], "a failed import leaves the state alone")
        XCTAssertThrowsError(try SGD(makeModel(seed: 5), momentum: 0.9).importState(["state.0.momentum_buffer": Tensor(zeros: [5, 3])]))
    }
}

/// The threaded update of a large parameter against the same update on small slices (one thread each).
final class OptimizerThreadingTests: XCTestCase {
    private func assertLargeMatchesSlices(_ make: ([ParameterGroup]) -> any Optimizer) {
        let n = 70_001, slice = 1_000
        var generator = RandomGenerator(seed: 42)
        let values = generator.normal(count: n)
        let large = Tensor(shape: [n], scalars: values)
        let slices = stride(from: 0, to: n, by: slice).map { start in
            Tensor(shape: [min(slice, n - start)], scalars: Array(values[start..<min(start + slice, n)]))
        }
        let whole = make([ParameterGroup(parameters: [large], learningRate: 0.01, weightDecay: 0.1)])
        let pieces = make([ParameterGroup(parameters: slices, learningRate: 0.01, weightDecay: 0.1)])
        for _ in 0..<3 {
            let grad = generator.normal(count: n)
            large.grad = Tensor(shape: [n], scalars: grad)
            for (index, piece) in slices.enumerated() {
                piece.grad = Tensor(shape: piece.shape, scalars: Array(grad[(index * slice)..<(index * slice + piece.count)]))
            }
            whole.step()
            pieces.step()
        }
        XCTAssertEqual(large.scalars, slices.flatMap(\.scalars))
    }

    func testAdamW() { assertLargeMatchesSlices { AdamW($0) } }
    func testSGD() { assertLargeMatchesSlices { SGD($0, momentum: 0.9, dampening: 0.1) } }

    /// The vectorised, threaded AdamW against a naive scalar loop of torch's formula (SPECS 8.2), bit
    /// for bit: lengths that leave a partial vector, a length split across threads, and both of ATen's
    /// lerp forms (|1 − β₁| below and above 0.5).
    func testAdamWMatchesTheScalarFormulaBitForBit() {
        for (n, beta1) in [(1, 0.9), (7, 0.9), (70_001, 0.9), (13, 0.2), (70_001, 0.2)] {
            var generator = RandomGenerator(seed: UInt64(n))
            let initial = generator.normal(count: n)
            let parameter = Tensor(shape: [n], scalars: initial)
            let (lr, weightDecay, beta2, eps) = (0.01, 0.1, 0.999, 1e-8)
            let optimizer = AdamW([ParameterGroup(parameters: [parameter], learningRate: lr, weightDecay: weightDecay)],
                                  beta1: beta1, beta2: beta2, epsilon: eps)
            var (p, m, v) = (initial, [Float](repeating: 0, count: n), [Float](repeating: 0, count: n))
            for step in 1...3 {
                let g = generator.normal(count: n).map { $0 * Float(step) }
                parameter.grad = Tensor(shape: [n], scalars: g)
                optimizer.step()
                let stepSize = Float(lr / (1 - pow(beta1, Double(step))))
                let bc2Sqrt = Float(pow(1 - pow(beta2, Double(step)), 0.5))
                let w = Float(1 - beta1)
                for i in 0..<n {
                    p[i] *= Float(1 - lr * weightDecay)
                    m[i] = abs(w) < 0.5 ? m[i] + w * (g[i] - m[i]) : g[i] - (g[i] - m[i]) * (1 - w)
                    v[i] = v[i] * Float(beta2) + Float(1 - beta2) * g[i] * g[i]
                    p[i] = p[i] + -stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + Float(eps))
                }
            }
            XCTAssertEqual(parameter.scalars.map(\.bitPattern), p.map(\.bitPattern), "n \(n), beta1 \(beta1)")
            XCTAssertEqual(optimizer.states[0]?.expAvgSq.scalars.map(\.bitPattern), v.map(\.bitPattern))
        }
    }
}
