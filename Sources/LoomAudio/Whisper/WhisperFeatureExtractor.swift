import Foundation
import LoomTensor

/// What the Whisper encoder takes for one clip.
public struct WhisperInput {
    /// [n_mels, frames] log-mel features.
    public let inputFeatures: Tensor
    /// [frames], 1 for frames that start inside the clip: set when the config asks for it
    /// (`return_attention_mask`), as transformers returns it.
    public let attentionMask: [Int32]?
}

/// Whisper's log-mel features, matching transformers' `WhisperFeatureExtractor` (its torch path, the
/// one taken whenever torch is installed; the numpy path differs by ≤ 1.3e-5):
///
/// 1. resample to `sampling_rate` (16 kHz) if needed; pad with `padding_value` or trim to n_samples
///    (480000), or to frames·hop for encoders given fewer frames;
/// 2. STFT: periodic Hann window of n_fft (400), hop 160, center=True with reflect padding of n_fft/2,
///    one-sided (201 bins); power |X|²; the last frame dropped, leaving n_samples/hop (3000) frames;
/// 3. Slaney mel filters (0–8000 Hz, `MelFilterBank`), log10(max(mel, 1e-10));
/// 4. max(x, max(x) − 8) over the whole clip, then (x + 4)/4.
///
/// Frames are computed in parallel (`Threads.parallelFor`); each uses one 200-point complex FFT.
public struct WhisperFeatureExtractor: Sendable {
    public let config: WhisperFeatureConfig
    public let melFilters: MelFilterBank
    let fft: RealFFT
    /// torch.hann_window(n_fft) in float32: 0.5 − 0.5·cos(n·(2π/n_fft)).
    let window: [Float]

    public init(config: WhisperFeatureConfig = WhisperFeatureConfig()) throws {
        try config.validate()
        self.config = config
        fft = RealFFT(size: config.nFFT)
        melFilters = MelFilterBank(binCount: 1 + config.nFFT / 2, melCount: config.featureSize,
                                   minFrequency: 0, maxFrequency: 8000, sampleRate: config.samplingRate)
        let step = Float(2 * Double.pi / Double(config.nFFT))
        window = (0..<config.nFFT).map { 0.5 - 0.5 * cos(Float($0) * step) }
    }

    /// Reads a Hugging Face `preprocessor_config.json`.
    public init(preprocessorConfig url: URL) throws {
        try self.init(config: WhisperFeatureConfig(contentsOf: url))
    }

    /// Frames in the output for `frames` requested (nil: the config's nb_max_frames).
    public func outputFrames(_ frames: Int? = nil) -> Int {
        let n = (frames ?? config.nbMaxFrames) * config.hopLength
        return (n + 2 * (config.nFFT / 2) - config.nFFT) / config.hopLength
    }

    /// [n_mels, frames] log-mel features of `samples` recorded at `sampleRate` (resampled when it is not
    /// the config's rate). `frames` (nil: 3000) sets the window to frames·hop samples.
    public func features(_ samples: [Float], sampleRate: Int, frames: Int? = nil) throws -> Tensor {
        var generator = RandomGenerator(seed: 0)
        return try callAsFunction(samples, sampleRate: sampleRate, frames: frames, ditherGenerator: &generator).inputFeatures
    }

    /// Decodes the file at `path` (mono mix) and returns its features.
    public func features(path: String, frames: Int? = nil) throws -> Tensor {
        let clip = try AudioDecoder.decode(path: path)
        return try features(clip.samples, sampleRate: clip.sampleRate, frames: frames)
    }

    /// Features and (when configured) the attention mask, as transformers' `__call__` returns them.
    /// Dither noise, when the config sets it, is drawn from `ditherGenerator`.
    public func callAsFunction(_ samples: [Float], sampleRate: Int, frames: Int? = nil,
                               ditherGenerator: inout RandomGenerator) throws -> WhisperInput {
        guard sampleRate > 0 else { throw AudioError("sample rate must be positive, got \(sampleRate)") }
        let audio = Resampler.resample(samples, from: sampleRate, to: config.samplingRate)
        let length = (frames ?? config.nbMaxFrames) * config.hopLength
        guard length > config.nFFT / 2 else {
            throw AudioError("\(frames ?? config.nbMaxFrames) frames of \(config.hopLength) samples are too few: "
                             + "the STFT's reflect padding needs more than n_fft/2 = \(config.nFFT / 2) samples")
        }
        var waveform = padded(audio, to: length)
        if config.dither != 0 {
            let noise = ditherGenerator.normal(count: length)
            let scale = Float(config.dither)
            for i in 0..<length { waveform[i] += scale * noise[i] }
        }
        let features = logMel(waveform)
        let mask = config.returnAttentionMask ? attentionMask(sampleCount: audio.count, frames: frames) : nil
        return WhisperInput(inputFeatures: features, attentionMask: mask)
    }

    /// transformers' mask for a clip of `sampleCount` samples (at the config's rate): the sample mask
    /// of the padded window taken every hop samples, 1 where the frame's first sample is in the clip.
    public func attentionMask(sampleCount: Int, frames: Int? = nil) -> [Int32] {
        let length = (frames ?? config.nbMaxFrames) * config.hopLength
        let valid = min(sampleCount, length)
        let count = outputFrames(frames)
        return (0..<count).map { t in
            let s = t * config.hopLength
            return config.paddingSide == "left" ? (s >= length - valid ? 1 : 0) : (s < valid ? 1 : 0)
        }
    }

    /// `samples` trimmed to `length` (keeping the start) or padded with padding_value on the configured side.
    func padded(_ samples: [Float], to length: Int) -> [Float] {
        if samples.count >= length { return Array(samples[0..<length]) }
        let fill = [Float](repeating: Float(config.paddingValue), count: length - samples.count)
        return config.paddingSide == "left" ? fill + samples : samples + fill
    }

    /// Log-mel features of a waveform already padded to its window. [n_mels, frames]
    func logMel(_ waveform: [Float]) -> Tensor {
        let nFFT = config.nFFT, hop = config.hopLength, half = nFFT / 2
        let n = waveform.count
        let frames = (n + 2 * half - nFFT) / hop  // torch.stft's 1 + … frames, less the dropped last one
        let mels = melFilters.melCount, bins = fft.binCount
        var output = [Float](repeating: 0, count: mels * frames)  // [n_mels, frames]
        waveform.withUnsafeBufferPointer { xb in
            window.withUnsafeBufferPointer { wb in
                output.withUnsafeMutableBufferPointer { ob in
                    let x = xb.baseAddress!, w = wb.baseAddress!, out = ob.baseAddress!
                    Threads.parallelFor(frames, grain: 32) { range in
                        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: nFFT + 3 * bins + fft.scratchCount)
                        defer { buffer.deallocate() }
                        let frame = buffer, re = buffer + nFFT, im = re + bins, power = im + bins
                        let scratch = power + bins
                        for t in range {
                            let start = t * hop - half
                            if start >= 0 && start + nFFT <= n {
                                for i in 0..<nFFT { frame[i] = x[start + i] * w[i] }
                            } else {
                                for i in 0..<nFFT { frame[i] = x[reflected(start + i, n)] * w[i] }
                            }
                            fft.transform(frame, outRe: re, outIm: im, scratch: scratch)
                            for k in 0..<bins { power[k] = re[k] * re[k] + im[k] * im[k] }
                            for m in 0..<mels {
                                var sum: Float = 0
                                let first = melFilters.firstBin[m]
                                melFilters.weights[m].withUnsafeBufferPointer { weights in
                                    for (j, weight) in weights.enumerated() { sum += weight * power[first + j] }
                                }
                                out[m * frames + t] = log10(max(sum, 1e-10))
                            }
                        }
                    }
                }
            }
        }
        let floor = (output.max() ?? 0) - 8.0
        for i in output.indices { output[i] = (max(output[i], floor) + 4.0) / 4.0 }
        return Tensor(shape: [mels, frames], scalars: output)
    }
}

/// torch's reflect padding: index −k reads k, index n−1+k reads n−1−k (the edge is not repeated).
@inline(__always)
func reflected(_ i: Int, _ n: Int) -> Int {
    if i < 0 { return -i }
    if i >= n { return 2 * (n - 1) - i }
    return i
}
