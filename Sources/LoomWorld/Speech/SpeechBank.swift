import Foundation
import LoomAudio

/// Synthesises the world's utterances into `speech/` as 16 kHz mono 16-bit WAV: espeak-ng speaks at
/// 22050 Hz, LoomAudio decodes that file and resamples it, and the 22 kHz file is deleted.
///
/// An utterance whose file already exists is not synthesised again: files are only ever written whole
/// (written aside, then renamed), and the name is a hash of text, voice and rate.
public struct SpeechBank {
    public let outputDirectory: URL
    public let workers: Int
    public let showsProgress: Bool

    public init(outputDirectory: URL, workers: Int = 2, showsProgress: Bool = true) {
        self.outputDirectory = outputDirectory
        self.workers = max(1, workers)
        self.showsProgress = showsProgress
    }

    public struct Report: Sendable {
        /// Distinct utterances asked for.
        public var distinct = 0
        /// Of those, how many were synthesised now (the rest existed).
        public var synthesised = 0
        /// Longest clip synthesised now, in seconds.
        public var longestSeconds = 0.0
    }

    /// Makes sure every utterance has its file. Throws on the first failure (missing espeak-ng, a clip
    /// longer than `SpeechStyle.maxSeconds`, an unwritable folder).
    public func synthesize(_ utterances: [Utterance]) throws -> Report {
        let distinct = try SpeechBank.distinct(utterances)
        let missing = self.missing(distinct)
        var report = Report(distinct: distinct.count, synthesised: missing.count)
        guard !missing.isEmpty else { return report }
        let folder = outputDirectory.appendingPathComponent("speech")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw WorldError("cannot create \(folder.path): \(error.localizedDescription)")
        }
        let espeak = try Espeak()
        let resampler = Resampler(from: 22_050, to: SpeechStyle.sampleRate)

        let state = SharedProgress(total: missing.count, showsProgress: showsProgress)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = state.take() {
                do {
                    let seconds = try synthesize(missing[index], espeak: espeak, resampler: resampler)
                    state.finished(seconds: seconds)
                } catch {
                    state.fail(error)
                }
            }
        }
        state.endLine()
        if let error = state.error { throw error }
        report.longestSeconds = state.longest
        return report
    }

    /// The utterances whose files do not exist yet.
    public func missing(_ utterances: [Utterance]) -> [Utterance] {
        utterances.filter { !FileManager.default.fileExists(atPath: outputDirectory.appendingPathComponent($0.relativePath).path) }
    }

    /// `utterances` without repeats, in first-seen order; throws if two share a file name.
    static func distinct(_ utterances: [Utterance]) throws -> [Utterance] {
        var seen: [String: Utterance] = [:]
        var distinct: [Utterance] = []
        for utterance in utterances {
            let path = utterance.relativePath
            if let other = seen[path] {
                if other != utterance {
                    throw WorldError("hash collision: \"\(other.text)\" and \"\(utterance.text)\" share \(path)")
                }
                continue
            }
            seen[path] = utterance
            distinct.append(utterance)
        }
        return distinct
    }

    /// One utterance: espeak-ng → decode → resample → 16-bit WAV; returns its duration in seconds.
    private func synthesize(_ utterance: Utterance, espeak: Espeak, resampler: Resampler) throws -> Double {
        let target = outputDirectory.appendingPathComponent(utterance.relativePath)
        let stem = target.deletingPathExtension().lastPathComponent
        let raw = target.deletingLastPathComponent().appendingPathComponent(".\(stem).22k.wav")
        defer { try? FileManager.default.removeItem(at: raw) }
        try espeak.synthesize(utterance, to: raw.path)
        let clip: AudioClip
        do {
            clip = try AudioDecoder.decode(path: raw.path)
        } catch {
            throw WorldError("cannot decode espeak-ng's output for \"\(utterance.text)\": \(error)")
        }
        let samples = clip.sampleRate == resampler.inputRate
            ? resampler.resampled(clip.samples)
            : Resampler.resample(clip.samples, from: clip.sampleRate, to: SpeechStyle.sampleRate)
        let seconds = Double(samples.count) / Double(SpeechStyle.sampleRate)
        guard seconds <= SpeechStyle.maxSeconds else {
            throw WorldError(String(format: "\"%@\" (voice %@, rate %d) lasts %.2f s, longer than the audio "
                                    + "encoder's %.1f s window", utterance.text, utterance.voice, utterance.rate,
                                    seconds, SpeechStyle.maxSeconds))
        }
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(stem).partial")
        try WorldFiles.writeDirectly(WAVFile.data(samples: samples, sampleRate: SpeechStyle.sampleRate), to: partial.path)
        guard rename(partial.path, target.path) == 0 else {
            throw WorldError("cannot rename \(partial.path) to \(target.path): \(String(cString: strerror(errno)))")
        }
        return seconds
    }
}

/// The work queue, progress line and first error shared by the synthesis workers.
private final class SharedProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0, done = 0
    private(set) var longest = 0.0
    private(set) var error: Error?
    private var lastPrint = 0.0
    let total: Int, showsProgress: Bool
    let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = Date()

    init(total: Int, showsProgress: Bool) {
        self.total = total
        self.showsProgress = showsProgress
    }

    /// The next index to synthesise, or nil when all are taken or a worker failed.
    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard error == nil, next < total else { return nil }
        next += 1
        return next - 1
    }

    func finished(seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        done += 1
        longest = max(longest, seconds)
        let elapsed = Date().timeIntervalSince(start)
        // A live line on a terminal; in a log, a line per 10 s and the last one.
        let interval = isTerminal ? 0.25 : 10
        if showsProgress && (elapsed - lastPrint >= interval || done == total) {
            lastPrint = elapsed
            let line = String(format: "%@speech: %d/%d clips synthesised (%.0f s)%@", isTerminal ? "\r" : "", done, total, elapsed,
                              isTerminal ? "" : "\n")
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func fail(_ failure: Error) {
        lock.lock(); defer { lock.unlock() }
        if error == nil { error = failure }
    }

    func endLine() {
        if showsProgress && done > 0 && isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
