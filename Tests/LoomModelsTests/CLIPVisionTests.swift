import Foundation
import XCTest
import LoomCheckpoint
import LoomNN
import LoomTensor
@testable import LoomModels

/// The CLIP vision tower against transformers' CLIPVisionModel, its config decoding and strict loading.
final class CLIPVisionTests: XCTestCase {
    typealias F = CLIPWhisperFixtures

    // MARK: Parity

    /// `clip_vision`: v5 keys without prefix; `clip_vision_prefixed`: `vision_model.*`; `clip_full_bf16`:
    /// a whole CLIPModel in BF16 (gelu), loaded as the tower only.
    func testOutputsMatchTransformers() throws {
        for name in ["clip_vision", "clip_vision_prefixed", "clip_full_bf16"] {
            let model = try CLIPVisionModel.load(directory: F.directory(name))
            let io = try F.io(name)
            let out = try withoutGradients { try model(try io.tensor("pixel_values"), outputHiddenStates: true) }
            XCTAssertEqual(out.hiddenStates.count, model.config.numHiddenLayers + 1, name)
            F.assertClose(out.lastHiddenState, try io.tensor("last_hidden_state"), "\(name) last_hidden_state")
            F.assertClose(try XCTUnwrap(out.poolerOutput), try io.tensor("pooler_output"), "\(name) pooler_output")
            F.assertClose(F.stacked(out.hiddenStates), try io.tensor("hidden_states"), "\(name) hidden_states")
        }
    }

    func testLayoutsAreToldApartByKeys() throws {
        XCTAssertEqual(try CLIPVisionModel.KeyLayout(storedKeys: ["vision_model.post_layernorm.weight"], source: "x"), .visionModelPrefix)
        XCTAssertEqual(try CLIPVisionModel.KeyLayout(storedKeys: ["embeddings.class_embedding"], source: "x"), .unprefixed)
        let error = F.error { try CLIPVisionModel.KeyLayout(storedKeys: ["model.layers.0.mlp.up_proj.weight"], source: "folder") }
        XCTAssertTrue("\(error!)".contains("folder") && "\(error!)".contains("vision_model."), "\(error!)")
        // Nested in a bigger model (LLaVA's vision_tower.*), the renames and ignores stay anchored.
        let nested = CLIPVisionModel.KeyLayout.unprefixed.keyMapping.nested(under: "vision_tower.")
        XCTAssertEqual(nested.moduleKey(for: "vision_tower.encoder.layers.0.mlp.fc1.weight"),
                       "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight")
        XCTAssertEqual(nested.moduleKey(for: "encoder.layers.0.mlp.fc1.weight"), "encoder.layers.0.mlp.fc1.weight")
        XCTAssertNil(nested.moduleKey(for: "vision_tower.embeddings.position_ids"))
        let full = CLIPVisionModel.KeyLayout.visionModelPrefix.keyMapping
        XCTAssertNil(full.moduleKey(for: "text_model.encoder.layers.0.mlp.fc1.weight"))
        XCTAssertEqual(full.moduleKey(for: "vision_model.encoder.layers.0.mlp.fc1.weight"), "vision_model.encoder.layers.0.mlp.fc1.weight")
    }

    // MARK: Selecting a hidden state (LLaVA)

    func testHiddenStateSelectionMatchesFullPass() throws {
        let name = "clip_vision"
        let model = try CLIPVisionModel.load(directory: F.directory(name))
        let io = try F.io(name)
        let pixels = try io.tensor("pixel_values")
        let expected = try io.tensor("hidden_states")                                   // [L+1, B, T, D]
        let layers = model.config.numHiddenLayers
        for index in [-2, -1, 0, 1, -(layers + 1)] {
            let resolved = index < 0 ? layers + 1 + index : index
            let state = try withoutGradients { try model.hiddenState(pixels, at: index) }
            let reference = expected.sliced(axis: 0, resolved..<(resolved + 1)).squeezed(0)
            F.assertClose(state, reference, "\(name) hidden_states[\(index)]")
        }
        let partial = try withoutGradients { try model(pixels, outputHiddenStates: true, layerCount: 1) }
        XCTAssertNil(partial.poolerOutput, "no pooler when the last layer did not run")
        XCTAssertEqual(partial.hiddenStates.count, 2)
        XCTAssertNotNil(F.error { try model.hiddenState(pixels, at: layers + 1) })
        XCTAssertNotNil(F.error { try model.hiddenState(pixels, at: -(layers + 2)) })
        XCTAssertNotNil(F.error { try model(pixels, layerCount: layers + 1) })
    }

    /// Selecting hidden_states[-2] must not run the last layer: poisoning it changes nothing.
    func testSecondToLastStateDoesNotRunTheLastLayer() throws {
        let name = "clip_vision"
        let model = try CLIPVisionModel.load(directory: F.directory(name))
        let io = try F.io(name)
        let last = model.visionModel.encoder.layers.last!
        last.mlp.fc1.weight.withUnsafeMutableBufferPointer { $0.update(repeating: .nan) }
        let state = try withoutGradients { try model.hiddenState(try io.tensor("pixel_values"), at: -2) }
        XCTAssertTrue(state.scalars.allSatisfy(\.isFinite))
        let layers = model.config.numHiddenLayers
        let reference = try io.tensor("hidden_states").sliced(axis: 0, (layers - 1)..<layers).squeezed(0)
        F.assertClose(state, reference, "\(name) hidden_states[-2] with a poisoned last layer")
    }

    func testWrongImageSizeOrChannelsThrow() throws {
        let model = CLIPVisionModel(try CLIPVisionConfig(hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1,
                                                         numAttentionHeads: 2, imageSize: 8, patchSize: 4))
        let size = F.error { try model(Tensor(zeros: [1, 3, 12, 8])) }
        XCTAssertTrue("\(size!)".contains("12*8") && "\(size!)".contains("8*8"), "\(size!)")
        let channels = F.error { try model(Tensor(zeros: [1, 1, 8, 8])) }
        XCTAssertTrue("\(channels!)".contains("[1, 1, 8, 8]"), "\(channels!)")
        XCTAssertEqual(try model(Tensor(zeros: [2, 3, 8, 8])).lastHiddenState.shape, [2, 5, 8])
    }

    // MARK: Config

    func testConfigDefaultsAndNesting() throws {
        let defaults = try ConfigFile.decode(CLIPVisionConfig.self, from: Data("{}".utf8), source: "empty")
        XCTAssertEqual(defaults, try CLIPVisionConfig())
        XCTAssertEqual(defaults.hiddenSize, 768)
        XCTAssertEqual(defaults.intermediateSize, 3072)
        XCTAssertEqual(defaults.numHiddenLayers, 12)
        XCTAssertEqual(defaults.numAttentionHeads, 12)
        XCTAssertEqual(defaults.imageSize, 224)
        XCTAssertEqual(defaults.patchSize, 32)
        XCTAssertEqual(defaults.hiddenAct, .quickGELU)
        XCTAssertEqual(defaults.layerNormEps, 1e-5)
        XCTAssertEqual(defaults.numChannels, 3)
        XCTAssertEqual(defaults.numPositions, 50)

        let clipWithoutVision = try ConfigFile.decode(CLIPVisionConfig.self, from: Data(#"{"model_type": "clip"}"#.utf8), source: "clip")
        XCTAssertEqual(clipWithoutVision, defaults)

        // A full CLIP config: the vision_config is read, omitted keys take the defaults.
        let full = try CLIPVisionConfig.decode(from: URL(fileURLWithPath: F.directory("clip_full_bf16") + "/config.json"))
        XCTAssertEqual(full, try CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4,
                                                  imageSize: 24, patchSize: 6, hiddenAct: .gelu))
        let partial = #"{"model_type": "clip", "projection_dim": 16, "vision_config": {"patch_size": 14, "image_size": 336}}"#
        let large = try ConfigFile.decode(CLIPVisionConfig.self, from: Data(partial.utf8), source: "clip")
        XCTAssertEqual(large.numPositions, 577)
        XCTAssertEqual(large.hiddenSize, 768)

        // A LLaVA-style config: the tower sits under vision_config of another model type.
        let llava = #"{"model_type": "llava", "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16, "image_size": 336, "patch_size": 14}, "text_config": {}}"#
        let nested = try CLIPVisionConfig.decode(nestedAt: "vision_config", from: Data(llava.utf8), source: "llava.json")
        XCTAssertEqual(nested.hiddenSize, 1024)
        XCTAssertEqual(nested.numHiddenLayers, 24)
        XCTAssertEqual(nested.hiddenAct, .quickGELU)
        XCTAssertEqual(nested.numPositions, 577)
        XCTAssertEqual(try CLIPVisionConfig.decode(nestedAt: "vision_config", from: Data("{}".utf8), source: "x"), defaults)
        let llavaFixture = try CLIPVisionConfig.decode(nestedAt: "vision_config",
                                                       from: URL(fileURLWithPath: F.directory("llava_default") + "/config.json"))
        XCTAssertEqual(llavaFixture, try CLIPVisionConfig(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 3,
                                                          numAttentionHeads: 4, imageSize: 32, patchSize: 8))
        struct Wrapper: Decodable { var vision_config: CLIPVisionConfig }
        XCTAssertEqual(try JSONDecoder().decode(Wrapper.self, from: Data(llava.utf8)).vision_config, nested)
    }

    func testConfigErrorsNameTheKey() throws {
        let act = F.error { try ConfigFile.decode(CLIPVisionConfig.self, from: Data(#"{"hidden_act": "mish"}"#.utf8), source: "cfg.json") }
        XCTAssertTrue("\(act!)".contains("cfg.json") && "\(act!)".contains("hidden_act"), "\(act!)")
        let type = F.error { try ConfigFile.decode(CLIPVisionConfig.self, from: Data(#"{"model_type": "siglip_vision_model"}"#.utf8), source: "cfg.json") }
        XCTAssertTrue("\(type!)".contains("siglip_vision_model"), "\(type!)")
        let heads = F.error { try ConfigFile.decode(CLIPVisionConfig.self, from: Data(#"{"hidden_size": 30, "num_attention_heads": 4}"#.utf8), source: "cfg.json") }
        XCTAssertTrue("\(heads!)".contains("num_attention_heads"), "\(heads!)")
        let nested = F.error { try CLIPVisionConfig.decode(nestedAt: "vision_config", from: Data(#"{"vision_config": {"patch_size": "14"}}"#.utf8), source: "llava.json") }
        XCTAssertTrue("\(nested!)".contains("llava.json") && "\(nested!)".contains("patch_size"), "\(nested!)")
    }

    // MARK: Strict loading

    func testMissingExtraAndMisshapedWeightsAreAllListed() throws {
        for name in ["clip_vision_prefixed", "clip_vision"] {
            let prefix = name == "clip_vision" ? "" : "vision_model."
            let folder = try F.temporaryCopy(of: name, in: self)
            try F.editWeights(in: folder) { entries in
                entries.removeAll { $0.name == prefix + "encoder.layers.1.mlp.fc2.bias" }
                entries.append((prefix + "encoder.layers.0.self_attn.rotary.weight", Tensor(zeros: [4]), .f32))
                let i = entries.firstIndex { $0.name == prefix + "embeddings.position_embedding.weight" }!
                entries[i].tensor = Tensor(zeros: [16, 32])
            }
            let error = try XCTUnwrap(F.error { try CLIPVisionModel.load(directory: folder) } as? WeightLoadingError, name)
            XCTAssertEqual(error.missing, ["vision_model.encoder.layers.1.mlp.fc2.bias"], name)
            XCTAssertEqual(error.unexpected, [prefix + "encoder.layers.0.self_attn.rotary.weight"], name)
            XCTAssertEqual(error.misshaped.map(\.key), [prefix + "embeddings.position_embedding.weight"], name)
            let text = "\(error)"
            for key in ["encoder.layers.1.mlp.fc2.bias", "self_attn.rotary.weight", "position_embedding.weight", "[16, 32]", "[17, 32]", folder] {
                XCTAssertTrue(text.contains(key), "\(name): \(key) not in \(text)")
            }
        }
    }

    /// Only the declared parts of a CLIPModel are skipped; anything else it stores is unexpected.
    func testFullCLIPIgnoresOnlyDeclaredKeys() throws {
        let folder = try F.temporaryCopy(of: "clip_full_bf16", in: self)
        try F.editWeights(in: folder) { entries in
            entries.append(("visual_projection.bias", Tensor(zeros: [16]), .bf16))
            entries.append(("vision_model.embeddings.position_ids", Tensor(zeros: [1, 17]), .f32))
        }
        let error = try XCTUnwrap(F.error { try CLIPVisionModel.load(directory: folder) } as? WeightLoadingError)
        XCTAssertEqual(error.unexpected, ["visual_projection.bias"])
        XCTAssertTrue(error.missing.isEmpty && error.misshaped.isEmpty)
    }

    func testPositionIdsBufferIsIgnored() throws {
        let folder = try F.temporaryCopy(of: "clip_vision", in: self)
        try F.editWeights(in: folder) { $0.append(("embeddings.position_ids", Tensor(zeros: [1, 17]), .f32)) }
        XCTAssertNoThrow(try CLIPVisionModel.load(directory: folder))
    }
}
