import Foundation
import LoomAudio
import LoomModels
import LoomTensor
import LoomWorld
import XCTest

/// The committed demo audio encoder and the CTC head published beside it belong together: the head
/// reads the words of questions espeak-ng speaks in the world's voices, and the audio modality's
/// `ctc_words` selection gives one feature per word.
final class DemoAudioEncoderTests: XCTestCase {
    func testPublishedCTCHeadTranscribesSpokenQuestions() throws {
        guard let espeak = try? Espeak() else { throw XCTSkip("espeak-ng is not installed (Debian package espeak-ng)") }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = repo.appendingPathComponent("checkpoints/demo-audio-encoder").path
        let encoder = try WhisperEncoder.load(directory: folder)
        let head = try WhisperCTCHead.load(directory: folder, dModel: encoder.config.dModel)
        let extractor = try WhisperFeatureExtractor(preprocessorConfig: URL(fileURLWithPath: folder).appendingPathComponent("preprocessor_config.json"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-audio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let questions = ["what colour is the diamond?", "is the yellow triangle above the purple square?", "how many shapes are there?"]
        var features: [Tensor] = []
        for (i, text) in questions.enumerated() {
            let path = directory.appendingPathComponent("\(i).wav").path
            try espeak.synthesize(Utterance(text: text, voice: SpeechStyle.voices[i % SpeechStyle.voices.count], rate: 150 + 20 * i), to: path)
            features.append(try extractor.features(path: path, frames: encoder.config.inputFrames))
        }
        let batch = concat(features.map { $0.reshaped([1] + $0.shape) }, axis: 0)
        let hidden = try withoutGradients { try encoder(batch) }
        let heard = ctcGreedySegments(scores: withoutGradients { head(hidden) }).map { $0.map { head.vocabulary[$0.label] }.joined(separator: " ") }
        XCTAssertEqual(heard, questions.map { String($0.dropLast()) })
        let words = try withoutGradients { try WhisperAudioEncoder(encoder: encoder, ctcHead: head, wordSlots: 12).encode(batch) }
        XCTAssertEqual(words.shape, [3, 12, encoder.config.dModel])
        let rows = words.scalars
        for (i, question) in questions.enumerated() {
            let used = (0..<12).filter { slot in (0..<encoder.config.dModel).contains { rows[(i * 12 + slot) * encoder.config.dModel + $0] != 0 } }
            XCTAssertEqual(used, Array(0..<question.split(separator: " ").count), "one row per word, then zero rows")
        }
    }
}
