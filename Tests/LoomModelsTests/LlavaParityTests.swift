import XCTest
import LoomCheckpoint
import LoomTensor
@testable import LoomModels

/// LlavaForConditionalGeneration checkpoints in every key layout transformers has written.
final class LlavaParityTests: XCTestCase {
    /// (case, fixture holding its io.safetensors)
    static let cases = [("llava_default", "llava_default"), ("llava_full_tied", "llava_full_tied"),
                        ("llava_legacy_keys", "llava_legacy_keys"), ("llava_model_prefix_keys", "llava_model_prefix_keys")]

    func testLogitsAndImageFeaturesMatchTransformers() throws {
        for (name, ioName) in Self.cases {
            let model = try LlavaForConditionalGeneration.load(directory: ParityFixture.directory(name))
            let io = try ParityFixture.io(ioName)
            let pixels = try io.tensor("pixel_values")
            try withoutGradients {
                assertParity(try model.imageFeatures(pixels), try io.tensor("image_features"), "\(name) image features")
                let logits = try model.logits(inputIds: try io.intTensor("input_ids"), pixelValues: pixels)
                assertParity(logits, try io.tensor("logits"), "\(name) logits")
            }
        }
    }

    func testMismatchedImageTokensFailClearly() throws {
        let model = try LlavaForConditionalGeneration.load(directory: ParityFixture.directory("llava_default"))
        let io = try ParityFixture.io("llava_default")
        var ids = try io.intTensor("input_ids")
        ids.scalars[ids.scalars.firstIndex(of: 127)!] = 5  // one placeholder fewer
        XCTAssertThrowsError(try model.logits(inputIds: ids, pixelValues: try io.tensor("pixel_values"))) { error in
            XCTAssertTrue("\(error)".contains("31 image tokens"), "\(error)")
        }
    }

    func testGradientsReachOnlyTheProjectorInStageOne() throws {
        let model = try LlavaForConditionalGeneration.load(directory: ParityFixture.directory("llava_default"))
        let io = try ParityFixture.io("llava_default")
        model.freeze()
        model.model.multiModalProjector.unfreeze()
        let ids = try io.intTensor("input_ids")
        let logits = try model.logits(inputIds: ids, pixelValues: try io.tensor("pixel_values"))
        let labels = IntTensor(shape: ids.shape, scalars: ids.scalars.map { $0 == 127 ? -100 : $0 })
        try crossEntropy(logits: logits.reshaped([-1, logits.shape[2]]), targets: labels).backward()
        XCTAssertEqual(model.namedParameters().filter { $0.tensor.grad != nil }.map(\.key).sorted(),
                       model.model.multiModalProjector.namedParameters().map { "model.multi_modal_projector." + $0.key }.sorted())
    }
}
