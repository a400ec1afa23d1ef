import XCTest
import LoomCheckpoint
import LoomNN
import LoomTensor
@testable import LoomModels

/// Whole models with their frozen weights kept in bfloat16 (`keepFrozenWeightsInBFloat16`): the same
/// bits as the model whose weights were rounded but kept in Float32 (so nothing but the rounding
/// changes, and every op on the path accepts a bfloat16 weight), and close to transformers' float32
/// outputs by the size of that rounding.
final class BFloat16WeightsTests: XCTestCase {
    /// Rounds every frozen Linear / Embedding weight of `module` to bfloat16 values, kept in Float32.
    func roundInPlace(_ module: Module) {
        for (_, m) in module.namedModules() {
            guard let weight = (m as? Linear)?.weight ?? (m as? Embedding)?.weight, !weight.requiresGradient else { continue }
            weight.withUnsafeMutableBufferPointer { values in
                for i in values.indices { values[i] = Kernels.float(bfloat16: Kernels.bfloat16Bits(values[i])) }
            }
        }
    }

    /// max |a − b| / max(1, max |b|).
    func relativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
        let x = a.scalars, y = b.scalars
        let scale = max(1, y.map { abs($0) }.max() ?? 0)
        return zip(x, y).map { abs($0 - $1) }.max()! / scale
    }

    func testLlavaLogitsAreThoseOfTheRoundedWeights() throws {
        for name in ["llava_default", "llava_full_tied"] {  // tied: the head reads the bfloat16 embedding table
            let compact = try LlavaForConditionalGeneration.load(directory: ParityFixture.directory(name))
            let rounded = try LlavaForConditionalGeneration.load(directory: ParityFixture.directory(name))
            compact.freeze()
            rounded.freeze()
            let conversion = compact.keepFrozenWeightsInBFloat16()
            roundInPlace(rounded)
            XCTAssertGreaterThan(conversion.tensors, 10, name)
            XCTAssertTrue(compact.model.languageModel.embedTokens.weight.isBFloat16, name)
            let io = try ParityFixture.io(name)
            let ids = try io.intTensor("input_ids"), pixels = try io.tensor("pixel_values")
            let (a, b) = try withoutGradients {
                (try compact.logits(inputIds: ids, pixelValues: pixels), try rounded.logits(inputIds: ids, pixelValues: pixels))
            }
            XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "\(name): logits")
            let difference = relativeDifference(a, try io.tensor("logits"))
            XCTAssertLessThan(difference, 0.05, "\(name): bfloat16 weights moved the logits by \(difference) of their scale")
            XCTAssertGreaterThan(difference, 0, "\(name): rounding the weights changed nothing: were they converted?")
        }
    }

    /// Stage 1: the projector trains through a bfloat16 language model and vision tower; its
    /// gradients are those of the rounded model, bit for bit.
    func testProjectorGradientsThroughABFloat16Model() throws {
        let name = "llava_default"
        var grads: [[UInt32]] = []
        for compactWeights in [true, false] {
            let model = try LlavaForConditionalGeneration.load(directory: ParityFixture.directory(name))
            model.freeze()
            model.model.multiModalProjector.unfreeze()
            if compactWeights { model.keepFrozenWeightsInBFloat16() } else { roundInPlace(model) }
            XCTAssertFalse(model.model.multiModalProjector.parameters.contains { $0.isBFloat16 })
            let io = try ParityFixture.io(name)
            let ids = try io.intTensor("input_ids")
            let labels = IntTensor(shape: ids.shape, scalars: ids.scalars.map { $0 == 127 ? -100 : $0 })
            try model.loss(inputIds: ids, pixelValues: try io.tensor("pixel_values"), labels: labels).backward()
            grads.append(model.model.multiModalProjector.parameters.flatMap { $0.grad!.scalars.map(\.bitPattern) })
        }
        XCTAssertEqual(grads[0], grads[1])
    }

    func testWhisperEncoderWithBFloat16Weights() throws {
        let name = "whisper_conditional"
        let compact = try WhisperEncoder.load(directory: CLIPWhisperFixtures.directory(name))
        let rounded = try WhisperEncoder.load(directory: CLIPWhisperFixtures.directory(name))
        compact.freeze()
        rounded.freeze()
        XCTAssertGreaterThan(compact.keepFrozenWeightsInBFloat16().tensors, 0)
        roundInPlace(rounded)
        let io = try CLIPWhisperFixtures.io(name)
        let features = try io.tensor("input_features")
        let (a, b) = try withoutGradients { (try compact(features), try rounded(features)) }
        XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern))
        XCTAssertLessThan(relativeDifference(a, try io.tensor("last_hidden_state")), 0.05)
    }
}
