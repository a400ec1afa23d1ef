import Foundation
import XCTest
@testable import LoomAudio

/// libsndfile decoding vs soundfile.read(dtype="float32") and librosa's mono mix.
final class DecodingTests: XCTestCase {
    func testDecodedSamplesMatchSoundfile() throws {
        for (stem, file) in Fixture.clips + [("truncated_data", "truncated_data.wav")] {
            let audio = try AudioDecoder.decodeInterleaved(path: Fixture.audio(file))
            let stats = Fixture.expected["\(stem).decoded_stats"].values
            XCTAssertEqual(audio.frameCount, Int(stats[0]), "\(file): frames")
            XCTAssertEqual(audio.channels, Int(stats[1]), "\(file): channels")

            let every7 = Fixture.expected["\(stem).decoded_every7"]
            let strided = stride(from: 0, to: audio.frameCount, by: 7).flatMap { t in
                audio.samples[(t * audio.channels)..<((t + 1) * audio.channels)]
            }
            let diff = Differences(strided, every7.values)
            print("decode \(file): \(diff)")
            XCTAssertLessThanOrEqual(diff.max, 1e-6, "\(file): decoded samples differ from soundfile")

            let sum = audio.samples.reduce(0.0) { $0 + Double($1) }
            let squares = audio.samples.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(sum, Double(stats[2]), accuracy: 1e-5 * max(1, abs(Double(stats[2]))), "\(file): Σx")
            XCTAssertEqual(squares, Double(stats[3]), accuracy: 1e-5 * max(1, Double(stats[3])), "\(file): Σx²")

            let mono = audio.downmixed()
            XCTAssertEqual(mono.channels, audio.channels)
            XCTAssertEqual(mono.sampleRate, audio.sampleRate)
            if audio.channels > 1 {
                let expected = Fixture.expected["\(stem).mono_every7"].values
                let monoDiff = Differences(stride(from: 0, to: mono.samples.count, by: 7).map { mono.samples[$0] }, expected)
                // Vorbis is decoded by the system's libvorbis, soundfile bundles its own: ~1e-7 apart.
                let tolerance: Float = file.hasSuffix(".ogg") ? 1e-6 : 0
                XCTAssertLessThanOrEqual(monoDiff.max, tolerance, "\(file): mono mix differs from librosa.to_mono (\(monoDiff))")
            }
            let monoSum = mono.samples.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(monoSum, Double(stats[4]), accuracy: 1e-5 * max(1, abs(Double(stats[4]))), "\(file): Σmono")
        }
    }

    func testSampleRatesAndChannels() throws {
        let expected: [String: (Int, Int)] = [
            "speech_16k_mono_s16.wav": (16000, 1), "mix_44k_stereo_s16.wav": (44100, 2),
            "speech_22k_mono_s16.flac": (22050, 1), "tones_32k_stereo.ogg": (32000, 2),
            "chirp_48k_mono_f32.wav": (48000, 1), "tones_8k_3ch_s24.wav": (8000, 3),
            "noise_16k_stereo_s32.wav": (16000, 2),
        ]
        for (file, (rate, channels)) in expected {
            let clip = try AudioDecoder.decode(path: Fixture.audio(file))
            XCTAssertEqual(clip.sampleRate, rate, file)
            XCTAssertEqual(clip.channels, channels, file)
        }
    }

    func testFloatFilesAreNotClipped() throws {
        let clip = try AudioDecoder.decode(path: Fixture.audio("chirp_48k_mono_f32.wav"))
        XCTAssertGreaterThan(clip.samples.map(abs).max()!, 1.1)
    }

    func testDecodingFromMemoryMatchesThePath() throws {
        for (_, file) in Fixture.clips {
            let path = Fixture.audio(file)
            let fromPath = try AudioDecoder.decodeInterleaved(path: path)
            let fromMemory = try AudioDecoder.decodeInterleaved(data: Data(contentsOf: URL(fileURLWithPath: path)), name: file)
            XCTAssertEqual(fromPath, fromMemory, file)
        }
    }

    func testBadFilesThrowNamingTheFile() throws {
        let bad = Fixture.expected.metadata["bad_files"]!.split(separator: ",").map(String.init)
        XCTAssertEqual(bad.count, 5)
        for file in bad {
            let path = Fixture.audio(file)
            XCTAssertThrowsError(try AudioDecoder.decode(path: path), file) { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains(path), "\(file): message does not name the file: \(message)")
                print("bad file \(file): \(message)")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try AudioDecoder.decode(data: data, name: file), file) { error in
                XCTAssertTrue(String(describing: error).contains(file))
            }
        }
        let missing = Fixture.audio("no_such_file.wav")
        XCTAssertThrowsError(try AudioDecoder.decode(path: missing)) { error in
            XCTAssertTrue(String(describing: error).contains(missing), String(describing: error))
        }
    }

    func testMessagesStayWithTheirFileUnderConcurrency() {
        let bad = ["bad_garbage.wav", "bad_truncated_header.wav"]
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let file = bad[i % 2]
            do {
                _ = try AudioDecoder.decode(path: Fixture.audio(file))
                XCTFail("\(file) decoded")
            } catch {
                let message = String(describing: error)
                XCTAssertTrue(message.contains(file))
                XCTAssertTrue(message.contains(file == "bad_garbage.wav" ? "not recognised" : "data"), message)
            }
        }
    }

    func testDownmixAveragesInFloat32Order() {
        let audio = InterleavedAudio(samples: [0.1, 0.2, 0.4, 1, 2, 4], sampleRate: 8000, channels: 3)
        let mono = audio.downmixed()
        XCTAssertEqual(mono.samples, [((Float(0.1) + 0.2) + 0.4) / 3, 7 / 3])
        XCTAssertEqual(mono.channels, 3)
    }
}
