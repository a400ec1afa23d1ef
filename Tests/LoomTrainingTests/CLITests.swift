import Foundation
import XCTest
import LoomAudio
import LoomCheckpoint
import LoomImages

/// The `loom tokenize` and `loom features` commands on files made by the reference libraries.
final class CLITests: XCTestCase {
    static let tests = SmokeRunTests.root.appendingPathComponent("Tests")

    func runLoom(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(SmokeRunTests.loomBinary, "build the loom binary first: swift build --product loom"))
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func temporary(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("loom-cli-\(UUID().uuidString)-\(name)")
    }

    /// Ids identical to `tokenizers`' encode(text).ids, line by line.
    func testTokenizeMatchesTheTokenizersLibrary() throws {
        let fixtures = Self.tests.appendingPathComponent("LoomTokenizerTests/Fixtures")
        for name in ["llama2_sentencepiece", "gpt2_bytelevel", "qwen2_split"] {
            let output = temporary("ids.jsonl")
            defer { try? FileManager.default.removeItem(at: output) }
            XCTAssertEqual(try runLoom(["tokenize", "--tokenizer", fixtures.appendingPathComponent(name).path,
                                        "--input", fixtures.appendingPathComponent("corpus/test.jsonl").path, "--output", output.path]), 0)
            let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
            let goldens = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("\(name)/goldens.json"))) as! [[String: Any]]
            XCTAssertEqual(lines.count, goldens.count, name)
            for (line, golden) in zip(lines, goldens) {
                let ids = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["ids"] as! [Int]
                XCTAssertEqual(ids, golden["ids"] as! [Int], "\(name): \(golden["text"] ?? "")")
            }
        }
        XCTAssertNotEqual(try runLoom(["tokenize", "--tokenizer", "/nonexistent", "--input", "/nonexistent", "--output", temporary("x").path]), 0)
    }

    func testFeaturesWritesWhatTheProcessorsCompute() throws {
        let processor = temporary("processor")
        try FileManager.default.createDirectory(at: processor, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: processor) }
        let image = Self.tests.appendingPathComponent("LoomImagesTests/Fixtures/images/rgb8_300x200.png").path
        try FileManager.default.copyItem(at: Self.tests.appendingPathComponent("LoomImagesTests/Fixtures/configs/clip224.json"),
                                         to: processor.appendingPathComponent("preprocessor_config.json"))
        let output = temporary("pixels.safetensors")
        defer { try? FileManager.default.removeItem(at: output) }
        XCTAssertEqual(try runLoom(["features", "--image", image, "--processor", processor.path, "--pad-square", "--output", output.path]), 0)
        let written = try SafetensorsFile(path: output.path).tensor("pixel_values")
        let expected = try CLIPImageProcessor(preprocessorConfig: processor.appendingPathComponent("preprocessor_config.json"))
            .process(path: image, padToSquare: true)
        XCTAssertEqual(written.shape, [3, 224, 224])
        XCTAssertEqual(written.scalars, expected.scalars)

        let audio = Self.tests.appendingPathComponent("LoomAudioTests/Fixtures/audio/speech_16k_mono_s16.wav").path
        let audioConfig = processor.appendingPathComponent("preprocessor_config.json")
        try FileManager.default.removeItem(at: audioConfig)
        try Data(#"{"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 80, "sampling_rate": 16000, "hop_length": 160, "n_fft": 400, "chunk_length": 30, "padding_value": 0.0}"#.utf8).write(to: audioConfig)
        let features = temporary("features.safetensors")
        defer { try? FileManager.default.removeItem(at: features) }
        XCTAssertEqual(try runLoom(["features", "--audio", audio, "--processor", processor.path, "--frames", "400", "--output", features.path]), 0)
        let mel = try SafetensorsFile(path: features.path).tensor("input_features")
        XCTAssertEqual(mel.shape, [80, 400])
        XCTAssertEqual(mel.scalars, try WhisperFeatureExtractor(preprocessorConfig: audioConfig).features(path: audio, frames: 400).scalars)
        XCTAssertNotEqual(try runLoom(["features", "--image", image, "--audio", audio, "--processor", processor.path, "--output", features.path]), 0)
    }
}
