import CSndFile
import Foundation

/// Decodes audio files with libsndfile: WAV (PCM 8/16/24/32, float, double), FLAC, Ogg/Vorbis, Opus,
/// AIFF and whatever else the system libsndfile was built with, at any rate and channel count.
///
/// Samples come from `sf_readf_float` with libsndfile's default float normalisation, the same call
/// `soundfile.read(dtype="float32")` (and so `librosa.load`) makes: integer PCM is divided by 2^(bits−1)
/// (int16 / 32768), float files pass through unscaled and unclipped. A file libsndfile cannot open or
/// read throws an `AudioError` that names the file and carries `sf_strerror`'s message.
public enum AudioDecoder {
    /// Frames asked of libsndfile per read call.
    static let chunkFrames = 1 << 16

    /// The file at `path`, mixed down to mono by averaging the channels (as `librosa.load(mono=True)`).
    public static func decode(path: String) throws -> AudioClip {
        try decodeInterleaved(path: path).downmixed()
    }

    /// The file at `url`, mixed down to mono.
    public static func decode(url: URL) throws -> AudioClip {
        try decode(path: url.path)
    }

    /// An encoded file held in memory (libsndfile virtual I/O), mixed down to mono. `name` is used in errors.
    public static func decode(data: Data, name: String = "<memory>") throws -> AudioClip {
        try decodeInterleaved(data: data, name: name).downmixed()
    }

    /// The file at `path` with every channel kept, interleaved.
    public static func decodeInterleaved(path: String) throws -> InterleavedAudio {
        var info = SF_INFO()
        let (handle, failure) = opened { sf_open(path, Int32(SFM_READ), &info) }
        guard let file = handle else { throw AudioError(source: path, "cannot open audio file: \(failure)") }
        defer { sf_close(file) }
        return try readAll(file, info: info, source: path)
    }

    /// An encoded file held in memory, every channel kept.
    public static func decodeInterleaved(data: Data, name: String = "<memory>") throws -> InterleavedAudio {
        let source = MemorySource(bytes: [UInt8](data))
        var io = SF_VIRTUAL_IO(get_filelen: MemorySource.length, seek: MemorySource.seek, read: MemorySource.read,
                               write: MemorySource.write, tell: MemorySource.tell)
        var info = SF_INFO()
        let context = Unmanaged.passRetained(source)
        defer { context.release() }
        let (handle, failure) = opened { sf_open_virtual(&io, Int32(SFM_READ), &info, context.toOpaque()) }
        guard let file = handle else { throw AudioError(source: name, "cannot open audio data: \(failure)") }
        defer { sf_close(file) }
        return try readAll(file, info: info, source: name)
    }

    // MARK: Reading

    /// sf_strerror(NULL) reports a process-wide "last open error": opens are serialised so that the
    /// message read back belongs to this open.
    private static let openLock = NSLock()

    /// Runs an sf_open variant under the lock; on failure also returns libsndfile's message.
    private static func opened(_ open: () -> OpaquePointer?) -> (OpaquePointer?, String) {
        openLock.withLock {
            let handle = open()
            return (handle, handle == nil ? String(cString: sf_strerror(nil)) : "")
        }
    }

    /// Reads up to `info.frames` frames (what soundfile asks for), in chunks so that a header claiming
    /// an absurd length cannot make us allocate it up front. A short read without an error is a
    /// truncated file and keeps what was there, as soundfile does; a read error throws.
    private static func readAll(_ file: OpaquePointer, info: SF_INFO, source: String) throws -> InterleavedAudio {
        let channels = Int(info.channels), rate = Int(info.samplerate)
        guard channels > 0 else { throw AudioError(source: source, "audio file reports \(channels) channels") }
        guard rate > 0 else { throw AudioError(source: source, "audio file reports sample rate \(rate)") }
        let expected = max(0, Int(info.frames))
        var samples: [Float] = []
        // At most 16 Mi samples (64 MB) up front, whatever the header claims (channels included).
        let (claimed, overflow) = expected.multipliedReportingOverflow(by: channels)
        samples.reserveCapacity(overflow ? 1 << 24 : min(claimed, 1 << 24))
        var chunk = [Float](repeating: 0, count: chunkFrames * channels)
        var total = 0
        while total < expected {
            let want = min(chunkFrames, expected - total)
            let got = chunk.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(want)) }
            if sf_error(file) != Int32(SF_ERR_NO_ERROR) {
                throw AudioError(source: source, "cannot decode frames \(total)..<\(total + want): \(String(cString: sf_strerror(file)))")
            }
            guard got > 0 else { break }
            samples.append(contentsOf: chunk[0..<(Int(got) * channels)])
            total += Int(got)
        }
        return InterleavedAudio(samples: samples, sampleRate: rate, channels: channels)
    }
}

/// Bytes in memory behind libsndfile's virtual I/O callbacks (C function pointers: no captures, the
/// source travels as `user_data`).
private final class MemorySource {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> MemorySource {
        Unmanaged<MemorySource>.fromOpaque(pointer!).takeUnretainedValue()
    }

    static let length: sf_vio_get_filelen = { user in sf_count_t(MemorySource.from(user).bytes.count) }

    static let seek: sf_vio_seek = { offset, whence, user in
        let source = MemorySource.from(user)
        let base: Int
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = source.position
        case SEEK_END: base = source.bytes.count
        default: return -1
        }
        let target = base + Int(offset)
        guard target >= 0 else { return -1 }
        source.position = target
        return sf_count_t(target)
    }

    static let read: sf_vio_read = { destination, count, user in
        let source = MemorySource.from(user)
        let available = max(0, source.bytes.count - source.position)
        let n = min(Int(count), available)
        guard n > 0, let destination else { return 0 }
        source.bytes.withUnsafeBytes { src in
            destination.copyMemory(from: src.baseAddress! + source.position, byteCount: n)
        }
        source.position += n
        return sf_count_t(n)
    }

    static let write: sf_vio_write = { _, _, _ in 0 }

    static let tell: sf_vio_tell = { user in sf_count_t(MemorySource.from(user).position) }
}
