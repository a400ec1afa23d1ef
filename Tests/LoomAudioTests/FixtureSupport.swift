import Foundation
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

/// A minimal safetensors reader for the F32 tensors of the fixtures (the test target cannot depend on
/// LoomCheckpoint without a Package.swift change).
struct Expectations {
    let tensors: [String: (shape: [Int], values: [Float])]
    let metadata: [String: String]

    init(url: URL) throws {
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in header {
            let entry = value as! [String: Any]
            if key == "__metadata__" {
                metadata = entry.compactMapValues { $0 as? String }
                continue
            }
            precondition(entry["dtype"] as! String == "F32", "\(key) is not F32")
            let shape = (entry["shape"] as! [NSNumber]).map(\.intValue)
            let offsets = (entry["data_offsets"] as! [NSNumber]).map(\.intValue)
            let bytes = data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
            let values = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            tensors[key] = (shape, values)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    subscript(_ key: String) -> (shape: [Int], values: [Float]) {
        guard let tensor = tensors[key] else { fatalError("fixture tensor \(key) is missing") }
        return tensor
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
