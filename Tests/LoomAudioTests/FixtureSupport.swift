import Foundation
import LoomCheckpoint
import XCTest

/// Fixtures written by tools/fixtures/make_audio_fixtures.py (soundfile, librosa, transformers).
enum Fixture {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func audio(_ name: String) -> String { root.appendingPathComponent("audio").appendingPathComponent(name).path }

    static func url(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// expected_audio.safetensors, read once.
    static let expected: Expectations = {
        do {
            return try Expectations(url: url("expected_audio.safetensors"))
        } catch {
            fatalError("cannot read expected_audio.safetensors: \(error)")
        }
    }()

    /// The clips with their file names.
    static let clips: [(stem: String, file: String)] = [
        ("speech_16k_mono_s16", "speech_16k_mono_s16.wav"),
        ("mix_44k_stereo_s16", "mix_44k_stereo_s16.wav"),
        ("speech_22k_mono_s16", "speech_22k_mono_s16.flac"),
        ("tones_32k_stereo", "tones_32k_stereo.ogg"),
        ("chirp_48k_mono_f32", "chirp_48k_mono_f32.wav"),
        ("tones_8k_3ch_s24", "tones_8k_3ch_s24.wav"),
        ("noise_16k_stereo_s32", "noise_16k_stereo_s32.wav"),
    ]
}

/// The fixtures' expected tensors (all F32), read with Loom's own safetensors reader.
struct Expectations {
    let file: SafetensorsFile

    init(url: URL) throws { file = try SafetensorsFile(path: url.path) }

    var metadata: [String: String] { file.metadata }

    subscript(_ key: String) -> (shape: [Int], values: [Float]) {
        guard let tensor = try? file.tensor(key) else { fatalError("fixture tensor \(key) is missing") }
        return (tensor.shape, tensor.scalars)
    }
}

/// |actual − expected| statistics.
struct Differences: CustomStringConvertible {
    let max: Float, mean: Float, p99: Float, count: Int

    init(_ actual: [Float], _ expected: [Float]) {
        precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) values")
        let d = zip(actual, expected).map { abs($0 - $1) }.sorted()
        count = d.count
        max = d.last ?? 0
        mean = d.isEmpty ? 0 : Float(d.reduce(0.0) { $0 + Double($1) } / Double(d.count))
        p99 = d.isEmpty ? 0 : d[Swift.min(d.count - 1, Int((Double(d.count - 1) * 0.99).rounded(.up)))]
    }

    var description: String { String(format: "max %.3g, mean %.3g, p99 %.3g over %d values", max, mean, p99, count) }
}
