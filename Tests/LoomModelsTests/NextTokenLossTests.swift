import XCTest
@testable import LoomModels
import LoomTensor

/// `NextTokenLoss` runs the head on the supervised positions only; it must give the loss and the
/// gradients of the full computation (logits everywhere, then cross-entropy with the shifted labels).
final class NextTokenLossTests: XCTestCase {
    func testEqualsTheFullHeadComputation() throws {
        var rng = RandomGenerator(seed: 3)
        let (b, t, d, vocab) = (3, 7, 8, 11)
        let hiddenValues = Tensor.randomNormal([b, t, d], generator: &rng)
        let head = Tensor.randomNormal([vocab, d], std: 0.5, generator: &rng)
        head.requiresGradient = true
        // Row 0: prompt then answer; row 1: nothing supervised; row 2: supervised from position 1.
        let labels = IntTensor(shape: [b, t], scalars: [-100, -100, -100, 4, 5, 6, -100,
                                                        -100, -100, -100, -100, -100, -100, -100,
                                                        -100, 1, 2, 3, 9, 10, 0])
        for reduction in [LossReduction.mean, .sum] {
            var results: [(loss: Float, hidden: [Float], head: [Float])] = []
            for selective in [false, true] {
                let hidden = hiddenValues.copied()
                hidden.requiresGradient = true
                head.zeroGradient()
                let loss: Tensor
                if selective {
                    loss = try NextTokenLoss.loss(hidden: hidden, labels: labels, reduction: reduction) { linear($0, weight: head) }
                } else {
                    var shifted = [Int](repeating: -100, count: b * t)
                    for row in 0..<b { for i in 0..<(t - 1) { shifted[row * t + i] = labels.scalars[row * t + i + 1] } }
                    let logits = linear(hidden, weight: head)
                    loss = try crossEntropy(logits: logits.reshaped([b * t, vocab]), targets: IntTensor(shifted), reduction: reduction)
                }
                loss.backward()
                results.append((loss.item, hidden.grad!.scalars, head.grad!.scalars))
            }
            XCTAssertEqual(results[0].loss, results[1].loss, accuracy: 1e-6 * abs(results[0].loss), "\(reduction)")
            for (x, y) in zip(results[0].hidden, results[1].hidden) { XCTAssertEqual(x, y, accuracy: 1e-6, "\(reduction) d hidden") }
            for (x, y) in zip(results[0].head, results[1].head) { XCTAssertEqual(x, y, accuracy: 1e-6, "\(reduction) d head") }
            // Unsupervised rows get no gradient at all.
            XCTAssertTrue(results[1].hidden[(t * d)..<(2 * t * d)].allSatisfy { $0 == 0 })
        }
    }

    /// Models run their last layer only from the first supervised position on (`lastPositions`):
    /// the loss and every parameter's gradient are those of the full last layer, with padding, a
    /// sliding window (Mistral) and rows whose replies start at different positions.
    func testModelsSkipTheLastLayerBeforeTheFirstReply() throws {
        for name in ["llama_mha_tied", "mistral_gqa2", "qwen2_gqa3_tied"] {
            let model = try LlamaForCausalLM.load(directory: ParityFixture.directory(name))
            model.unfreeze()
            let (b, t) = (2, 12)
            var rng = RandomGenerator(seed: 11)
            let ids = IntTensor(shape: [b, t], scalars: (0..<(b * t)).map { _ in 3 + rng.int(below: 60) })
            let labels = IntTensor(shape: [b, t], scalars: (0..<(b * t)).map { i in
                let (row, position) = (i / t, i % t)
                return position >= (row == 0 ? 7 : 9) ? ids.scalars[i] : -100
            })
            let padding = (0..<(b * t)).map { $0 != 0 }  // row 0 starts with a padding token
            var results: [(loss: Float, grads: [[Float]])] = []
            for pruned in [true, false] {
                for p in model.parameters { p.zeroGradient() }
                let embeddings = try model.embed(ids)
                let loss = pruned
                    ? try model.loss(embeddings: embeddings, labels: labels, attentionMask: padding)
                    : try NextTokenLoss.loss(hidden: model.model(embeddings: embeddings, attentionMask: padding), labels: labels,
                                             reduction: .mean, head: model.head)
                loss.backward()
                results.append((loss.item, model.parameters.map { $0.grad?.scalars ?? [] }))
            }
            XCTAssertEqual(results[0].loss, results[1].loss, accuracy: 1e-5 * abs(results[1].loss), name)
            for (x, y) in zip(results[0].grads, results[1].grads) {
                XCTAssertEqual(x.count, y.count, name)
                let scale = y.map { abs($0) }.max() ?? 0
                XCTAssertLessThanOrEqual(zip(x, y).map { abs($0 - $1) }.max() ?? 0, 1e-4 * max(scale, 1e-6), name)
            }
            XCTAssertThrowsError(try model.loss(embeddings: try model.embed(ids), labels: IntTensor(shape: [b, t - 1], scalars: [Int](repeating: 1, count: b * (t - 1))))) { error in
                XCTAssertTrue("\(error)".contains("do not match the input"), "\(error)")
            }
            // The prompt's last layer got no MLP rows: its gradients are still complete (above), and
            // the next-token logits of generation come from the same pruned path.
            let embeddings = try model.embed(ids)
            let (last, full) = withoutGradients {
                (model.lastLogits(embeddings: embeddings, attentionMask: padding), model.logits(embeddings: embeddings, attentionMask: padding))
            }
            let expected = full.sliced(axis: 1, (t - 1)..<t).scalars
            for (x, y) in zip(last.scalars, expected) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), "\(name) last logits") }
        }
    }

    func testNothingSupervisedGivesCrossEntropysEmptyResult() throws {
        let hidden = Tensor(repeating: 0.5, shape: [1, 3, 2])
        let head = Tensor(repeating: 1, shape: [4, 2])
        let labels = IntTensor(shape: [1, 3], scalars: [-100, -100, -100])
        let sum = try NextTokenLoss.loss(hidden: hidden, labels: labels, reduction: .sum) { linear($0, weight: head) }
        XCTAssertEqual(sum.item, 0)
        let mean = try NextTokenLoss.loss(hidden: hidden, labels: labels, reduction: .mean) { linear($0, weight: head) }
        let reference = try crossEntropy(logits: Tensor(zeros: [3, 4]), targets: IntTensor([-100, -100, -100]))
        XCTAssertEqual(mean.item.isNaN, reference.item.isNaN)
        XCTAssertThrowsError(try NextTokenLoss.loss(hidden: hidden, labels: IntTensor(shape: [1, 2], scalars: [1, 2]), reduction: .sum) { $0 })
    }
}
