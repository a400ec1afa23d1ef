import Foundation
import LoomAdapters
import LoomModels
import LoomTokenizer
import LoomTraining
import XCTest

/// The built-in audio modality's options: `ctc_words` must be a positive integer, needs the folder's
/// CTC head, `ctc_feature` needs `ctc_words` and names hidden or posterior, and a name the kind does
/// not read is refused.
final class BuiltinModalityOptionTests: XCTestCase {
    func testAudioOptionErrorsNameTheOptionOrTheMissingHead() throws {
        BuiltinModalities.register()
        let audio = try ModalityRegistry.kind("audio")
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = repo.appendingPathComponent("checkpoints/demo-audio-encoder").path
        for (value, expected) in [("ten", "must be an integer"), ("0", "must be positive")] {
            XCTAssertThrowsError(try audio.loadEncoder(folder, ["ctc_words": value])) { error in
                XCTAssert("\(error)".contains("ctc_words") && "\(error)".contains(expected), "\(error)")
            }
        }
        XCTAssertThrowsError(try audio.loadEncoder(folder, ["ctc_feature": "posterior"])) { error in
            XCTAssert("\(error)".contains("ctc_feature needs ctc_words"), "\(error)")
        }
        XCTAssertThrowsError(try audio.loadEncoder(folder, ["ctc_words": "16", "ctc_feature": "logits"])) { error in
            XCTAssert("\(error)".contains("hidden or posterior") && "\(error)".contains("logits"), "\(error)")
        }
        // The encoder without its head.
        let headless = FileManager.default.temporaryDirectory.appendingPathComponent("loom-headless-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: headless) }
        try FileManager.default.createDirectory(at: headless, withIntermediateDirectories: true)
        for file in ["config.json", "model.safetensors", "preprocessor_config.json"] {
            try FileManager.default.copyItem(atPath: folder + "/" + file, toPath: headless.appendingPathComponent(file).path)
        }
        XCTAssertThrowsError(try audio.loadEncoder(headless.path, ["ctc_words": "16"])) { error in
            XCTAssert("\(error)".contains(WhisperCTCHead.fileName), "\(error)")
        }
        XCTAssertEqual(try audio.loadEncoder(folder, [:]).featureTokenCount(inputShape: []), 125)
        XCTAssertThrowsError(try audio.checkOptions(["ctc_word": "16"])) { error in
            XCTAssert("\(error)".contains("ctc_word") && "\(error)".contains("it takes: ctc_feature, ctc_words"), "\(error)")
        }
    }

    /// `ctc_feature: posterior` with a `linear` connector: the run starts the connector as the language
    /// model's embeddings of the head's words (the blank a zero column).
    func testPosteriorWordsStartALinearConnectorAsTheWordsEmbeddings() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loom-ctc-posterior-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoderFolder = repo.appendingPathComponent("checkpoints/demo-audio-encoder")
        for file in ["config.json", "model.safetensors", "preprocessor_config.json"] {
            try FileManager.default.copyItem(at: encoderFolder.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        let words = ["red", "diamond", "triangle"]
        try WhisperCTCHead(dModel: 128, vocabulary: ["<blank>"] + words).write(to: folder.path)
        let languageModel = repo.appendingPathComponent("checkpoints/demo-language-model").path
        let recipeFile = folder.appendingPathComponent("recipe.yaml")
        try """
        language_model: \(languageModel)
        modalities:
          audio:
            encoder: \(folder.path)
            options: {ctc_words: 4, ctc_feature: posterior}
            connector: linear
        stages:
          - name: align
            data: {train: \(folder.path)/unused.json}
            trainable: ["modalities.*.connector.*"]
            learning_rate: 1.0e-3
            steps: 1
        """.write(to: recipeFile, atomically: true, encoding: .utf8)
        let run = try TrainingRun(recipe: try Recipe.load(recipeFile.path), directory: folder.appendingPathComponent("run"))
        let binding = try XCTUnwrap(run.model.modalities.first)
        let lookup = try XCTUnwrap(binding.connector as? LinearConnector)
        XCTAssertEqual(lookup.weight.shape, [run.model.languageModel.config.hiddenSize, 4])
        XCTAssertEqual(lookup.bias.scalars, [Float](repeating: 0, count: lookup.bias.count))
        let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: languageModel))
        let table = run.model.languageModel.model.embedTokens.weight.scalars, weight = lookup.weight.scalars
        let width = lookup.weight.shape[0]
        for (c, word) in ([nil] + words).enumerated() {
            let ids = word.map(tokenizer.idsInSentence(word:)) ?? []
            for j in 0..<width {
                let expected = ids.isEmpty ? 0 : ids.reduce(Float(0)) { $0 + table[$1 * width + j] } / Float(ids.count)
                XCTAssertEqual(weight[j * 4 + c], expected, accuracy: 1e-6, "column \(c) (\(word ?? "blank"))")
            }
        }
    }
}
