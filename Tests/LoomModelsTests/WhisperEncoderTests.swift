import Foundation
import XCTest
import LoomCheckpoint
import LoomNN
import LoomTensor
@testable import LoomModels

/// The Whisper encoder against transformers' WhisperEncoder, its config decoding and strict loading.
final class WhisperEncoderTests: XCTestCase {
    typealias F = CLIPWhisperFixtures

    // MARK: Parity

    /// `whisper_conditional`: WhisperForConditionalGeneration (`model.encoder.*`); `whisper_bare`:
    /// WhisperModel (`encoder.*`).
    func testLastHiddenStateMatchesTransformers() throws {
        for name in ["whisper_conditional", "whisper_bare"] {
            let encoder = try WhisperEncoder.load(directory: F.directory(name))
            let io = try F.io(name)
            let out = try withoutGradients { try encoder(try io.tensor("input_features")) }
            F.assertClose(out, try io.tensor("last_hidden_state"), "\(name) last_hidden_state")
        }
    }

    func testLayoutsAreToldApartByKeys() throws {
        let w = WhisperEncoder.KeyLayout.self
        XCTAssertEqual(try w.init(storedKeys: ["model.decoder.layer_norm.weight", "model.encoder.conv1.weight"], source: "x"), .conditionalGeneration)
        XCTAssertEqual(try w.init(storedKeys: ["decoder.layer_norm.weight", "encoder.conv1.weight"], source: "x"), .bare)
        let error = F.error { try w.init(storedKeys: ["decoder.layer_norm.weight"], source: "folder") }
        XCTAssertTrue("\(error!)".contains("folder") && "\(error!)".contains("model.encoder."), "\(error!)")
        let mapping = w.conditionalGeneration.keyMapping
        XCTAssertEqual(mapping.moduleKey(for: "model.encoder.layers.0.fc1.weight"), "layers.0.fc1.weight")
        XCTAssertNil(mapping.moduleKey(for: "model.decoder.layers.0.fc1.weight"))
        XCTAssertNil(mapping.moduleKey(for: "proj_out.weight"))
        XCTAssertEqual(w.bare.keyMapping.moduleKey(for: "encoder.conv2.bias"), "conv2.bias")
        XCTAssertNil(w.bare.keyMapping.moduleKey(for: "decoder.embed_tokens.weight"))
    }

    // MARK: Inputs

    func testWrongFrameCountFailsNamingBothCounts() throws {
        let name = "whisper_conditional"
        let encoder = try WhisperEncoder.load(directory: F.directory(name))
        XCTAssertEqual(encoder.config.inputFrames, 80)
        for frames in [79, 81, 3000] {
            let error = F.error { try encoder(Tensor(zeros: [1, 16, frames])) }
            XCTAssertTrue(error is WhisperInputError, "\(String(describing: error))")
            let text = "\(error!)"
            XCTAssertTrue(text.contains("\(frames) frames") && text.contains("exactly 80"), text)
        }
        let mels = F.error { try encoder(Tensor(zeros: [1, 15, 80])) }
        XCTAssertTrue("\(mels!)".contains("15 mel bins") && "\(mels!)".contains("16"), "\(mels!)")
        XCTAssertNotNil(F.error { try encoder(Tensor(zeros: [16, 80])) })
        XCTAssertEqual(try encoder(Tensor(zeros: [3, 16, 80])).shape, [3, 40, 32])
    }

    /// The position table is fixed: gradients reach the convolutions but never embed_positions.
    func testPositionTableGetsNoGradient() throws {
        let encoder = try WhisperEncoder.load(directory: F.directory("whisper_bare"))
        encoder.unfreeze()
        let out = try encoder(try F.io("whisper_bare").tensor("input_features"))
        sum(out * out).backward()
        XCTAssertNil(encoder.embedPositions.weight.grad)
        XCTAssertNotNil(encoder.conv1.weight.grad)
        XCTAssertNotNil(encoder.layers[0].selfAttn.kProj.weight.grad)
    }

    // MARK: Config

    func testConfigDefaultsAliasesAndErrors() throws {
        let defaults = try ConfigFile.decode(WhisperConfig.self, from: Data("{}".utf8), source: "empty")
        XCTAssertEqual(defaults, try WhisperConfig())
        XCTAssertEqual([defaults.dModel, defaults.encoderLayers, defaults.encoderAttentionHeads, defaults.encoderFfnDim,
                        defaults.numMelBins, defaults.maxSourcePositions], [384, 4, 6, 1536, 80, 1500])
        XCTAssertEqual(defaults.activationFunction, .gelu)
        XCTAssertEqual(defaults.layerNormEps, 1e-5)
        XCTAssertEqual(defaults.inputFrames, 3000)

        let fixture = try WhisperConfig.decode(from: URL(fileURLWithPath: F.directory("whisper_bare") + "/config.json"))
        XCTAssertEqual(fixture, try WhisperConfig(dModel: 32, encoderLayers: 2, encoderAttentionHeads: 4, encoderFfnDim: 64,
                                                  numMelBins: 16, maxSourcePositions: 40))

        let aliased = try ConfigFile.decode(WhisperConfig.self, from: Data(#"{"hidden_size": 64, "num_attention_heads": 8, "num_hidden_layers": 3}"#.utf8), source: "a")
        XCTAssertEqual([aliased.dModel, aliased.encoderAttentionHeads, aliased.encoderLayers], [64, 8, 3])

        let type = F.error { try ConfigFile.decode(WhisperConfig.self, from: Data(#"{"model_type": "clip"}"#.utf8), source: "cfg.json") }
        XCTAssertTrue("\(type!)".contains("cfg.json") && "\(type!)".contains("clip"), "\(type!)")
        let act = F.error { try ConfigFile.decode(WhisperConfig.self, from: Data(#"{"activation_function": "snake"}"#.utf8), source: "cfg.json") }
        XCTAssertTrue("\(act!)".contains("activation_function"), "\(act!)")
        let heads = F.error { try ConfigFile.decode(WhisperConfig.self, from: Data(#"{"d_model": 30, "encoder_attention_heads": 4}"#.utf8), source: "cfg.json") }
        XCTAssertTrue("\(heads!)".contains("encoder_attention_heads"), "\(heads!)")
    }

    // MARK: Strict loading

    func testMissingExtraAndMisshapedWeightsAreAllListed() throws {
        for (name, prefix) in [("whisper_conditional", "model.encoder."), ("whisper_bare", "encoder.")] {
            let folder = try F.temporaryCopy(of: name, in: self)
            try F.editWeights(in: folder) { entries in
                entries.removeAll { $0.name == prefix + "layers.1.self_attn.q_proj.bias" }
                // k_proj has no bias in Whisper: a stored one is unexpected, not silently dropped.
                entries.append((prefix + "layers.0.self_attn.k_proj.bias", Tensor(zeros: [32]), .f32))
                let i = entries.firstIndex { $0.name == prefix + "conv1.weight" }!
                entries[i].tensor = Tensor(zeros: [32, 80, 3])
            }
            let error = try XCTUnwrap(F.error { try WhisperEncoder.load(directory: folder) } as? WeightLoadingError, name)
            XCTAssertEqual(error.missing, ["layers.1.self_attn.q_proj.bias"], name)
            XCTAssertEqual(error.unexpected, [prefix + "layers.0.self_attn.k_proj.bias"], name)
            XCTAssertEqual(error.misshaped.map(\.key), [prefix + "conv1.weight"], name)
            let text = "\(error)"
            for key in ["layers.1.self_attn.q_proj.bias", "k_proj.bias", "conv1.weight", "[32, 80, 3]", "[32, 16, 3]", folder] {
                XCTAssertTrue(text.contains(key), "\(name): \(key) not in \(text)")
            }
        }
    }

    /// A key outside the declared layout (a bare encoder key inside a conditional checkpoint, or a
    /// stray head) is reported, never absorbed.
    func testKeysOutsideTheLayoutAreReported() throws {
        let folder = try F.temporaryCopy(of: "whisper_conditional", in: self)
        try F.editWeights(in: folder) { entries in
            entries.append(("encoder.layer_norm.weight", Tensor(zeros: [32]), .f32))
            entries.append(("model.proj_out.weight", Tensor(zeros: [64, 32]), .f32))
        }
        let error = try XCTUnwrap(F.error { try WhisperEncoder.load(directory: folder) } as? WeightLoadingError)
        XCTAssertEqual(error.unexpected, ["encoder.layer_norm.weight", "model.proj_out.weight"])
    }
}
