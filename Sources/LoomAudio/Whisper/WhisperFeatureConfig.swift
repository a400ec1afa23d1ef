import Foundation

/// The fields of a Hugging Face `preprocessor_config.json` that `WhisperFeatureExtractor` reads, with
/// transformers' defaults. Unknown keys are ignored, as transformers does (saved configs carry
/// `n_samples`, `nb_max_frames`, `processor_class` …; old ones a `mel_filters` array, which transformers
/// recomputes and so do we); a key of the wrong type throws naming the file and the key.
public struct WhisperFeatureConfig: Codable, Equatable, Sendable {
    /// Mel bins: 80 (most Whisper models) or 128 (large-v3).
    public var featureSize: Int = 80
    public var samplingRate: Int = 16000
    public var hopLength: Int = 160
    /// Seconds per window: the waveform is padded or trimmed to chunkLength · samplingRate samples.
    public var chunkLength: Int = 30
    public var nFFT: Int = 400
    /// Value appended (or prepended, for `paddingSide == "left"`) to reach the window length.
    public var paddingValue: Double = 0
    /// "right" (default) or "left".
    public var paddingSide: String = "right"
    public var returnAttentionMask: Bool = false
    /// Standard deviation of Gaussian noise added to the padded waveform (0: none).
    public var dither: Double = 0
    /// When present, must name this extractor.
    public var featureExtractorType: String?

    enum CodingKeys: String, CodingKey {
        case featureSize = "feature_size"
        case samplingRate = "sampling_rate"
        case hopLength = "hop_length"
        case chunkLength = "chunk_length"
        case nFFT = "n_fft"
        case paddingValue = "padding_value"
        case paddingSide = "padding_side"
        case returnAttentionMask = "return_attention_mask"
        case dither
        case featureExtractorType = "feature_extractor_type"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = WhisperFeatureConfig()
        featureSize = try Self.field(c, .featureSize, "an integer") ?? d.featureSize
        samplingRate = try Self.field(c, .samplingRate, "an integer") ?? d.samplingRate
        hopLength = try Self.field(c, .hopLength, "an integer") ?? d.hopLength
        chunkLength = try Self.field(c, .chunkLength, "an integer") ?? d.chunkLength
        nFFT = try Self.field(c, .nFFT, "an integer") ?? d.nFFT
        paddingValue = try Self.field(c, .paddingValue, "a number") ?? d.paddingValue
        paddingSide = try Self.field(c, .paddingSide, "a string") ?? d.paddingSide
        returnAttentionMask = try Self.field(c, .returnAttentionMask, "true or false") ?? d.returnAttentionMask
        dither = try Self.field(c, .dither, "a number") ?? d.dither
        featureExtractorType = try Self.field(c, .featureExtractorType, "a string", allowingNull: true)
    }

    /// A key's value, nil when absent. Wrong types and (unless allowed) null throw `KeyError` naming the
    /// key: swift-corelibs' JSONDecoder does not always put the key in its own errors.
    private static func field<T: Decodable>(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys,
                                            _ expected: String, allowingNull: Bool = false) throws -> T? {
        guard c.contains(key) else { return nil }
        if try c.decodeNil(forKey: key) {
            if allowingNull { return nil }
            throw KeyError(key: key.rawValue, detail: "expected \(expected), found null")
        }
        do {
            return try c.decode(T.self, forKey: key)
        } catch {  // a DecodingError, or the parser's own error for numbers that do not fit
            throw KeyError(key: key.rawValue, detail: "expected \(expected)")
        }
    }

    private struct KeyError: Error {
        let key: String, detail: String
    }

    /// chunk_length · sampling_rate (480000).
    public var nSamples: Int { chunkLength * samplingRate }
    /// n_samples / hop_length (3000).
    public var nbMaxFrames: Int { nSamples / hopLength }

    /// Reads `preprocessor_config.json`; errors name the file and the offending key.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw AudioError(source: url.path, "cannot read preprocessor config: \(error.localizedDescription)")
        }
        try self.init(json: data, source: url.path)
    }

    /// Parses preprocessor-config JSON; `source` names it in errors.
    public init(json data: Data, source: String = "<preprocessor config>") throws {
        do {
            self = try JSONDecoder().decode(WhisperFeatureConfig.self, from: data)
        } catch let error as KeyError {
            throw AudioError(source: source, key: error.key, error.detail)
        } catch {
            throw AudioError(source: source, "not a JSON object: \(error)")
        }
        try validate(source: source)
    }

    /// Checks the values transformers would choke on (or silently mis-handle).
    public func validate(source: String = "<preprocessor config>") throws {
        func positive(_ value: Int, _ key: CodingKeys) throws {
            if value <= 0 { throw AudioError(source: source, key: key.rawValue, "must be positive, got \(value)") }
        }
        try positive(featureSize, .featureSize)
        try positive(samplingRate, .samplingRate)
        try positive(hopLength, .hopLength)
        try positive(chunkLength, .chunkLength)
        if nFFT < 2 { throw AudioError(source: source, key: CodingKeys.nFFT.rawValue, "must be at least 2, got \(nFFT)") }
        if paddingSide != "right" && paddingSide != "left" {
            throw AudioError(source: source, key: CodingKeys.paddingSide.rawValue,
                             "must be \"right\" or \"left\", got \"\(paddingSide)\"")
        }
        if !(dither >= 0) || !dither.isFinite {
            throw AudioError(source: source, key: CodingKeys.dither.rawValue, "must be a finite number ≥ 0, got \(dither)")
        }
        if !paddingValue.isFinite {
            throw AudioError(source: source, key: CodingKeys.paddingValue.rawValue, "must be finite, got \(paddingValue)")
        }
        if let type = featureExtractorType, type != "WhisperFeatureExtractor" {
            throw AudioError(source: source, key: CodingKeys.featureExtractorType.rawValue,
                             "is \"\(type)\"; this extractor reads WhisperFeatureExtractor configs")
        }
    }
}
