/// Decoded audio mixed down to one channel: what the processors and the feature extractor consume.
public struct AudioClip: Equatable, Sendable {
    /// Mono samples, float32, nominally in [-1, 1] (float files may exceed it; nothing is clipped).
    public var samples: [Float]
    /// Samples per second of `samples`.
    public var sampleRate: Int
    /// How many channels the source had before the downmix.
    public var channels: Int

    public init(samples: [Float], sampleRate: Int, channels: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.channels = channels
    }

    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }

    /// The clip at `rate` samples per second (the same clip when it already is).
    public func resampled(to rate: Int) -> AudioClip {
        AudioClip(samples: Resampler.resample(samples, from: sampleRate, to: rate), sampleRate: rate, channels: channels)
    }
}

/// Decoded audio with every channel kept, interleaved frame by frame (`samples[frame * channels + c]`),
/// exactly as libsndfile returns it.
public struct InterleavedAudio: Equatable, Sendable {
    public var samples: [Float]
    public var sampleRate: Int
    public var channels: Int

    public init(samples: [Float], sampleRate: Int, channels: Int) {
        precondition(channels > 0 && samples.count % channels == 0,
                     "\(samples.count) samples do not split into \(channels) channels")
        self.samples = samples
        self.sampleRate = sampleRate
        self.channels = channels
    }

    public var frameCount: Int { samples.count / channels }

    /// The channels averaged frame by frame, as `librosa.to_mono` (`np.mean(y, axis=0)` on float32):
    /// the channels are summed in order in float32, then divided by their count.
    public func downmixed() -> AudioClip {
        guard channels > 1 else { return AudioClip(samples: samples, sampleRate: sampleRate, channels: 1) }
        let frames = frameCount, c = channels, divisor = Float(channels)
        var mono = [Float](repeating: 0, count: frames)
        samples.withUnsafeBufferPointer { src in
            mono.withUnsafeMutableBufferPointer { dst in
                for t in 0..<frames {
                    var sum = src[t * c]
                    for k in 1..<c { sum += src[t * c + k] }
                    dst[t] = sum / divisor
                }
            }
        }
        return AudioClip(samples: mono, sampleRate: sampleRate, channels: channels)
    }
}
