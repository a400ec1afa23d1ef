import Foundation
import LoomAudio
import XCTest
@testable import LoomWorld

final class SpeechTests: XCTestCase {
    func testWAVFileRoundTripsThroughLoomAudio() throws {
        let directory = try temporaryDirectory(self)
        let samples: [Float] = (0..<1600).map { Float(sin(Double($0) * 0.05)) * 0.8 } + [1.5, -1.5, 0]
        let url = directory.appendingPathComponent("tone.wav")
        try WAVFile.data(samples: samples, sampleRate: 16_000).write(to: url)
        let clip = try AudioDecoder.decode(path: url.path)
        XCTAssertEqual(clip.sampleRate, 16_000)
        XCTAssertEqual(clip.channels, 1)
        XCTAssertEqual(clip.samples.count, samples.count)
        for (a, b) in zip(clip.samples, samples.map { max(-1, min(32767 / 32768, $0)) }) {
            XCTAssertEqual(a, b, accuracy: 1 / 32768)
        }
        XCTAssertEqual(try Data(contentsOf: url).count, 44 + 2 * samples.count)
    }

    func testMissingEspeakIsExplained() {
        XCTAssertThrowsError(try Espeak(executable: "/nonexistent/espeak-ng")) { error in
            XCTAssert("\(error)".contains("espeak-ng"))
        }
    }

    func testEveryVoiceWorksAndABadVoiceIsNamed() throws {
        guard let espeak = try? Espeak() else { throw XCTSkip("espeak-ng is not installed (Debian package espeak-ng)") }
        let directory = try temporaryDirectory(self)
        var outputs: Set<Data> = []
        for voice in SpeechStyle.voices {
            let path = directory.appendingPathComponent("\(voice).wav").path
            try espeak.synthesize(Utterance(text: "is there a red circle?", voice: voice, rate: 165), to: path)
            outputs.insert(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        XCTAssertEqual(outputs.count, SpeechStyle.voices.count, "every voice sounds different")
        let bad = Utterance(text: "hello?", voice: "xq-unknownvoice", rate: 165)
        XCTAssertThrowsError(try espeak.synthesize(bad, to: directory.appendingPathComponent("bad.wav").path)) { error in
            XCTAssert("\(error)".contains("xq-unknownvoice") && "\(error)".contains("does not exist"), "\(error)")
        }
    }

    /// A handful of utterances through espeak-ng: 16 kHz mono files, at most 5 s, reused on a second run.
    func testSpokenFilesAre16kHzMonoAndShort() throws {
        guard (try? Espeak()) != nil else { throw XCTSkip("espeak-ng is not installed (Debian package espeak-ng)") }
        let directory = try temporaryDirectory(self)
        var options = silentOptions(directory)
        options.splits = [.pretrain, .stage1, .stage2, .test]
        options.pretrainVisionImages = 0
        options.pretrainText = 0
        options.stage1Images = 0
        options.stage2ImageQA = 0
        options.testQA = 0
        options.testCaptions = 0
        options.pretrainSpeech = 2
        options.stage1Speech = 2
        options.stage1SpokenTextQA = 2
        options.stage2SpokenQA = 2
        options.testSpokenQA = 2
        let summary = try DemoWorld.generate(options: options)
        XCTAssertGreaterThan(summary.speech.synthesised, 0)

        let speech = try samples(directory, "pretrain/speech.json")
        XCTAssertEqual(speech.count, 2)
        let transcripts = try samples(directory, "stage1/transcripts.json")
        for sample in transcripts {
            XCTAssertEqual(try turns(sample).human, "<audio>\ntranscribe the question.")
        }
        let spoken = try samples(directory, "stage2/spoken_qa.json") + samples(directory, "test/spoken_qa.json")
        for sample in spoken {
            XCTAssertEqual(try turns(sample).human, "<image>\n<audio>")
            XCTAssertNotNil(sample["question"] as? String)
        }
        XCTAssertNotNil(try samples(directory, "test/spoken_qa.json").first?["kind"] as? String)
        let spokenText = try samples(directory, "stage1/spoken_text_qa.json")
        XCTAssertEqual(spokenText.count, 2)
        for sample in spokenText {
            XCTAssertTrue(try turns(sample).human.hasSuffix("\n<audio>"))
        }
        var paths: Set<String> = []
        for sample in speech + transcripts + spoken + spokenText {
            let path = try XCTUnwrap(sample["audio"] as? String)
            XCTAssert(path.hasPrefix("speech/") && path.hasSuffix(".wav"), path)
            paths.insert(path)
        }
        let before = try filesByPath(directory)
        for path in paths {
            let clip = try AudioDecoder.decode(path: directory.appendingPathComponent(path).path)
            XCTAssertEqual(clip.sampleRate, 16_000, path)
            XCTAssertEqual(clip.channels, 1, path)
            XCTAssertGreaterThan(clip.duration, 0.3, path)
            XCTAssertLessThanOrEqual(clip.duration, 5.0, path)
            let header = try XCTUnwrap(before[path]).prefix(44)
            XCTAssertEqual(header[header.startIndex + 34], 16, "16-bit PCM")
        }
        let speechFiles = before.keys.filter { $0.hasPrefix("speech/") }
        XCTAssertEqual(Set(speechFiles), paths, "no temporary 22 kHz files are left")

        let again = try DemoWorld.generate(options: options)
        XCTAssertEqual(again.speech.synthesised, 0, "existing clips are reused")
        XCTAssertEqual(try filesByPath(directory), before)
    }
}
