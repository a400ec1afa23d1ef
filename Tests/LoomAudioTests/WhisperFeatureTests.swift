import Foundation
import XCTest
import LoomTensor
@testable import LoomAudio

/// Log-mel features vs transformers' WhisperFeatureExtractor (torch path), on librosa.load's samples.
final class WhisperFeatureTests: XCTestCase {
    static let extractor80 = try! WhisperFeatureExtractor(preprocessorConfig: Fixture.url("preprocessor_config_80.json"))
    static let extractor128 = try! WhisperFeatureExtractor(preprocessorConfig: Fixture.url("preprocessor_config_128.json"))

    /// Compares [mels, frames] features with the stored head (first F frames) and tail value.
    private func compare(_ features: Tensor, _ key: String, mels: Int, frames: Int = 3000) -> (head: Differences, tail: Float) {
        XCTAssertEqual(features.shape, [mels, frames], key)
        let values = features.scalars
        let head = Fixture.expected[key]
        let stored = head.shape[1]
        let actualHead = (0..<mels).flatMap { m in values[(m * frames)..<(m * frames + stored)] }
        var tailDiff: Float = 0
        if stored < frames {
            let tail = Fixture.expected["\(key)_tail"].values[0]
            for m in 0..<mels { for t in stored..<frames { tailDiff = max(tailDiff, abs(values[m * frames + t] - tail)) } }
        }
        return (Differences(actualHead, head.values), tailDiff)
    }

    func testConfigsLoadAsWritten() {
        let config = Self.extractor80.config
        XCTAssertEqual(config.featureSize, 80)
        XCTAssertEqual(config.samplingRate, 16000)
        XCTAssertEqual(config.hopLength, 160)
        XCTAssertEqual(config.nFFT, 400)
        XCTAssertEqual(config.nSamples, 480000)
        XCTAssertEqual(config.nbMaxFrames, 3000)
        XCTAssertEqual(Self.extractor128.config.featureSize, 128)
    }

    func testSixteenKilohertzSpeechMatchesTransformers() throws {
        let clip = try AudioDecoder.decode(path: Fixture.audio("speech_16k_mono_s16.wav"))
        for (extractor, mels) in [(Self.extractor80, 80), (Self.extractor128, 128)] {
            let features = try extractor.features(clip.samples, sampleRate: clip.sampleRate)
            let (head, tail) = compare(features, "speech_16k_mono_s16.features\(mels)", mels: mels)
            print("features speech_16k_mono_s16 (\(mels) mels): \(head); padded tail max |diff| \(tail)")
            XCTAssertLessThanOrEqual(head.max, 2e-3)
            XCTAssertLessThanOrEqual(head.mean, 1e-5)
            XCTAssertLessThanOrEqual(tail, 2e-3)
        }
    }

    func testFramesOptionPadsAndTrims() throws {
        let clip = try AudioDecoder.decode(path: Fixture.audio("speech_16k_mono_s16.wav"))
        for frames in [256, 100, 2] {
            let features = try Self.extractor80.features(clip.samples, sampleRate: 16000, frames: frames)
            let (head, _) = compare(features, "speech_16k_mono_s16.features80_frames\(frames)", mels: 80, frames: frames)
            print("features speech_16k_mono_s16 frames=\(frames): \(head)")
            XCTAssertLessThanOrEqual(head.max, 2e-3)
        }
        XCTAssertThrowsError(try Self.extractor80.features(clip.samples, sampleRate: 16000, frames: 1))
    }

    func testAttentionMaskMatchesTransformers() throws {
        let clip = try AudioDecoder.decode(path: Fixture.audio("speech_16k_mono_s16.wav"))
        var config = Self.extractor80.config
        config.returnAttentionMask = true
        let extractor = try WhisperFeatureExtractor(config: config)
        var generator = RandomGenerator(seed: 0)
        for (frames, key) in [(nil, "attention_mask"), (256, "attention_mask_frames256")] as [(Int?, String)] {
            let input = try extractor(clip.samples, sampleRate: 16000, frames: frames, ditherGenerator: &generator)
            let expected = Fixture.expected["speech_16k_mono_s16.\(key)"].values.map { Int32($0) }
            XCTAssertEqual(input.attentionMask, expected, key)
        }
        XCTAssertNil(try Self.extractor80(clip.samples, sampleRate: 16000, ditherGenerator: &generator).attentionMask)
    }

    /// Non-16 kHz files: librosa.load(sr=16000) (soxr_hq) then the extractor, vs our decode + resample.
    func testResampledInputsMatchLibrosaThenTransformers() throws {
        for (stem, file) in Fixture.clips {
            let clip = try AudioDecoder.decode(path: Fixture.audio(file))
            let resampled = Resampler.resample(clip.samples, from: clip.sampleRate, to: 16000)
            XCTAssertEqual(resampled.count, Int(Fixture.expected["\(stem).samples16k_count"].values[0]), "\(file): length")
            let features = try Self.extractor80.features(path: Fixture.audio(file))
            let (head, tail) = compare(features, "\(stem).features80", mels: 80)
            print("features \(file) (\(clip.sampleRate) Hz, \(clip.channels) ch): clip frames \(head); padded tail max |diff| \(tail)")
            XCTAssertLessThanOrEqual(head.mean, 1e-3, file)
            XCTAssertLessThanOrEqual(head.p99, 5e-3, file)
            XCTAssertLessThanOrEqual(tail, 5e-3, file)
            if clip.sampleRate == 16000 { XCTAssertLessThanOrEqual(head.max, 2e-3, file) }
        }
    }

    func testMelFilterBankMatchesTheSlaneyFormula() {
        // Spot values of transformers' mel_filter_bank(201, 80, 0, 8000, 16000, "slaney", "slaney").
        let bank = Self.extractor80.melFilters
        XCTAssertEqual(bank.melCount, 80)
        XCTAssertEqual(MelFilterBank.hertzToMel(8000), 45.245640471924965, accuracy: 1e-12)
        XCTAssertEqual(MelFilterBank.melToHertz(MelFilterBank.hertzToMel(4321)), 4321, accuracy: 1e-9)
        // Filter 0 spans 0 … 2·(45.2456/81)·200/3 Hz = 74.5 Hz: bins 1 (40 Hz) only.
        XCTAssertEqual(bank.firstBin[0], 1)
        XCTAssertEqual(bank.weights[0].count, 1)
        // Slaney normalisation: each filter's area in Hz is 1 (triangle of height 2/width).
        for m in [10, 40, 79] {
            let area = bank.weights[m].reduce(0, +) * 40
            XCTAssertEqual(area, 1, accuracy: 0.08, "filter \(m)")
        }
    }

    func testConfigErrorsNameTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"feature_size": "80"}"#, "feature_size"),
            (#"{"hop_length": 160.5}"#, "hop_length"),
            (#"{"return_attention_mask": "yes"}"#, "return_attention_mask"),
            (#"{"padding_value": [0]}"#, "padding_value"),
            (#"{"n_fft": 0}"#, "n_fft"),
            (#"{"sampling_rate": -16000}"#, "sampling_rate"),
            (#"{"padding_side": "middle"}"#, "padding_side"),
            (#"{"feature_extractor_type": "Wav2Vec2FeatureExtractor"}"#, "feature_extractor_type"),
            (#"{"dither": null}"#, "dither"),
        ]
        for (json, key) in cases {
            XCTAssertThrowsError(try WhisperFeatureConfig(json: Data(json.utf8), source: "cfg.json"), json) { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains("cfg.json") && message.contains("'\(key)'"), "\(json): \(message)")
            }
        }
        XCTAssertThrowsError(try WhisperFeatureConfig(json: Data("[1]".utf8), source: "cfg.json"))
        XCTAssertThrowsError(try WhisperFeatureExtractor(preprocessorConfig: Fixture.url("missing.json"))) { error in
            XCTAssertTrue(String(describing: error).contains("missing.json"))
        }
    }

    func testUnknownKeysAreIgnoredAndDefaultsApply() throws {
        let json = #"{"feature_size": 128, "mel_filters": [[0.1, 0.2]], "n_samples": 480000, "processor_class": "WhisperProcessor"}"#
        let config = try WhisperFeatureConfig(json: Data(json.utf8))
        XCTAssertEqual(config.featureSize, 128)
        XCTAssertEqual(config.hopLength, 160)
        XCTAssertEqual(config.chunkLength, 30)
        XCTAssertEqual(config.paddingSide, "right")
    }

    /// Reports the cost of a full 30 s window (3000 frames) and of resampling 30 s of 44.1 kHz audio (3 s
    /// in debug builds) with `Threads.count` workers (LOOM_NUM_THREADS=1 for one core). Bounded loosely.
    func testThirtySecondClipTiming() throws {
        #if DEBUG
        let seconds = 3  // unoptimised SIMD code is ~100× slower
        #else
        let seconds = 30
        #endif
        var generator = RandomGenerator(seed: 5)
        let clip16k = generator.normal(count: 480000).map { 0.1 * $0 }
        let clip44k = generator.normal(count: seconds * 44100).map { 0.1 * $0 }
        _ = try Self.extractor80.features(Array(clip16k[0..<16000]), sampleRate: 16000)  // warm-up
        var start = DispatchTime.now()
        let features = try Self.extractor80.features(clip16k, sampleRate: 16000)
        let featureMs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        start = DispatchTime.now()
        let resampled = Resampler.resample(clip44k, from: 44100, to: 16000)
        let resampleMs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        print(String(format: "timing (%d threads): log-mel of 30 s (3000 frames) %.1f ms; resample %d s 44.1→16 kHz %.1f ms",
                     Threads.count, featureMs, seconds, resampleMs))
        XCTAssertEqual(features.shape, [80, 3000])
        XCTAssertEqual(resampled.count, seconds * 16000)
        XCTAssertLessThan(featureMs, 20000)
    }

    func testLeftPaddingPutsTheClipAtTheEnd() throws {
        var config = WhisperFeatureConfig()
        config.paddingSide = "left"
        let extractor = try WhisperFeatureExtractor(config: config)
        let x = (0..<1600).map { Float(sin(Double($0) * 0.3)) }
        let padded = extractor.padded(x, to: 3200)
        XCTAssertEqual(Array(padded[1600...]), x)
        XCTAssertEqual(extractor.attentionMask(sampleCount: 1600, frames: 20), [Int32](repeating: 0, count: 10) + [Int32](repeating: 1, count: 10))
    }
}
