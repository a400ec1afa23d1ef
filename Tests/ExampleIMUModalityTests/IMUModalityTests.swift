import Foundation
import XCTest
import ExampleIMUModality
import LoomAdapters
import LoomData
import LoomModels
import LoomNN
import LoomTensor
import LoomTraining

/// The plug-in path end to end with a modality Loom does not know: files → loader → frozen encoder →
/// trainable connector → frozen LM. Uses only Loom's public API.
final class IMUModalityTests: XCTestCase {
    /// A word-level tokenizer standing in for the user's tokenizer.json.
    final class Words: TextEncoder {
        var vocabulary: [String: Int] = [:]
        func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            return (addSpecialTokens ? [1] : []) + words.map { word in
                if let id = vocabulary[word] { return id }
                vocabulary[word] = vocabulary.count + 3
                return vocabulary.count + 2
            }
        }
    }

    func testConnectorOfANewModalityTrainsAndNothingElseChanges() throws {
        IMU.register()
        let kind = try ModalityRegistry.kind("imu")
        XCTAssertNoThrow(try kind.checkOptions(["width": "12", "frames": "64"]))
        XCTAssertThrowsError(try kind.checkOptions(["widht": "12"])) { error in
            XCTAssert("\(error)".contains("widht") && "\(error)".contains("frames, width"), "\(error)")
        }

        // Data: walking (large periodic acceleration) or sitting (near-still) recordings.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-imu-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines: [String] = []
        for i in 0..<8 {
            let walking = i % 2 == 0
            var csv = "ax,ay,az,gx,gy,gz\n"
            for t in 0..<64 {
                let phase = Float(t) * 0.4 + Float(i)
                let a: Float = walking ? 2 * sinf(phase) : 0.05 * sinf(phase)
                csv += [a, a * 0.5, 9.8 + a, a * 0.1, 0, -a * 0.2].map { String($0) }.joined(separator: ",") + "\n"
            }
            try csv.write(to: dir.appendingPathComponent("rec\(i).csv"), atomically: true, encoding: .utf8)
            let answer = walking ? "the person is walking" : "the person is sitting"
            lines.append(#"{"id": "r\#(i)", "imu": "\#(dir.path)/rec\#(i).csv", "conversations": [{"from": "human", "value": "<imu>"}, {"from": "gpt", "value": "\#(answer)"}]}"#)
        }
        let datasetPath = dir.appendingPathComponent("train.jsonl").path
        try lines.joined(separator: "\n").write(toFile: datasetPath, atomically: true, encoding: .utf8)

        // Model: frozen tiny LM, frozen IMU encoder, trainable mlp2x_gelu connector.
        var rng = RandomGenerator(seed: 5)
        let config = try JSONDecoder().decode(LlamaConfig.self, from: Data("""
            {"model_type": "llama", "vocab_size": 24, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2}
            """.utf8))
        let lm = try LlamaForCausalLM(config)
        lm.initializeParameters(std: 0.2, generator: &rng)
        let encoder = try kind.loadEncoder(dir.path, ["width": "12"])
        encoder.initializeParameters(std: 0.2, generator: &rng)
        let connector = try ConnectorRegistry.make("mlp2x_gelu", inputDim: encoder.featureDimension, outputDim: config.hiddenSize)
        connector.initializeParameters(std: 0.1, generator: &rng)
        let binding = ModalityBinding(name: "imu", placeholder: kind.placeholder, encoder: encoder, connector: connector)
        let model = MultimodalLM(languageModel: lm, modalities: [binding])
        model.freeze()
        connector.unfreeze()
        let untouched = model.namedParameters().filter { !$0.key.hasPrefix("modalities.imu.connector.") }
        let before = untouched.map { $0.tensor.scalars }

        // Loader: the registered processor turns each CSV into [6, 64].
        let (conversations, failures) = try DatasetFile.read(datasetPath, modalities: ["imu"])
        XCTAssertTrue(failures.isEmpty)
        let tokenizer = ConversationTokenizer(template: .plain, tokenizer: Words(), placeholders: [IMU.placeholder])
        let samples = try conversations.map { try tokenizer.tokenize($0) }
        let collator = Collator(tokensPerItem: ["imu": binding.tokenCount(inputShape: [IMU.channels, 64])],
                                placeholders: [IMU.placeholder], maxLength: 64, padTokenId: 0)
        let process = try kind.makeProcessor(dir.path, ["frames": "64"])
        let loader = try DataLoader(samples: samples, collator: collator, mediaLoaders: ["imu": { try process($0) }],
                                    options: .init(batchSize: 4, seed: 1))

        let optimizer = AdamW([ParameterGroup(parameters: connector.parameters, learningRate: 5e-2)])
        var epochLosses: [Float] = []
        for epoch in 0..<15 {
            let stream = loader.batches(from: DataPosition(epoch: epoch))
            var total: Float = 0
            while let batch = try stream.nextBatch() {
                optimizer.zeroGradients()
                let media = batch.modalityInputs
                let loss = try model.loss(inputIds: batch.inputIds, labels: batch.labels, media: media, attentionMask: batch.attentionMask)
                total += loss.item
                loss.backward()
                optimizer.step()
            }
            epochLosses.append(total)
        }
        XCTAssertLessThan(epochLosses.last!, 0.75 * epochLosses.first!, "losses per epoch: \(epochLosses)")
        for ((key, tensor), old) in zip(untouched, before) {
            XCTAssertEqual(tensor.scalars, old, "\(key) changed")
        }
    }
}
