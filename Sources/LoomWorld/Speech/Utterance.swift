/// One spoken text: what espeak-ng is asked to say, in which voice, at how many words per minute.
/// Each distinct utterance is synthesised once; its file name comes from a stable hash of all three.
public struct Utterance: Hashable, Sendable {
    public var text: String
    public var voice: String
    public var rate: Int

    public init(text: String, voice: String, rate: Int) {
        self.text = text
        self.voice = voice
        self.rate = rate
    }

    /// "speech/<16 hex digits>.wav", relative to the output folder.
    public var relativePath: String { "speech/\(StableHash.hex("\(voice)|\(rate)|\(text)")).wav" }
}

/// The voices and speaking rates of the world, and the format of its clips.
public enum SpeechStyle {
    /// espeak-ng voices, each checked on Debian's espeak-ng 1.51. "en+m3" stands in for the spec's
    /// "en-gb+m3": espeak-ng ignores a variant after "en-gb" (the output is byte-identical to plain
    /// "en-gb"), while "en" is the same British voice and takes the variant.
    public static let voices = ["en-us", "en-gb", "en-us+f3", "en+m3", "en-us+f2", "en-029"]
    /// Words per minute.
    public static let rates = [140, 165, 190]
    /// Clips are written as 16-bit PCM mono at this rate.
    public static let sampleRate = 16_000
    /// The audio encoder's window: no clip may be longer.
    public static let maxSeconds = 5.0

    /// A random voice and rate for `text`.
    public static func utterance(_ text: String, random: inout WorldRandom) -> Utterance {
        let voice = random.element(of: voices)
        let rate = random.element(of: rates)
        return Utterance(text: text, voice: voice, rate: rate)
    }
}
