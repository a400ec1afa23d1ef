import Foundation

/// Writes mono 16-bit PCM WAV: a 44-byte RIFF header and little-endian samples.
public enum WAVFile {
    /// `samples` (nominally in [-1, 1]) as 16-bit PCM: x·32768 rounded and clamped to the int16 range,
    /// the inverse of libsndfile's int16 → float scaling.
    public static func data(samples: [Float], sampleRate: Int) -> Data {
        let dataBytes = samples.count * 2
        var out = Data(capacity: 44 + dataBytes)
        func ascii(_ s: String) { out.append(contentsOf: Array(s.utf8)) }
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { out.append(contentsOf: $0) } }
        ascii("RIFF"); u32(36 + dataBytes); ascii("WAVE")
        ascii("fmt "); u32(16)
        u16(1)  // PCM
        u16(1)  // channels
        u32(sampleRate); u32(sampleRate * 2)  // bytes per second
        u16(2); u16(16)  // block align, bits per sample
        ascii("data"); u32(dataBytes)
        var pcm = [Int16](repeating: 0, count: samples.count)
        for (i, x) in samples.enumerated() {
            let scaled = (Double(x) * 32768).rounded()
            pcm[i] = Int16(max(-32768, min(32767, scaled))).littleEndian
        }
        pcm.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }
}
