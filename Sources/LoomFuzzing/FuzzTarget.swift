import Foundation
import LoomAdapters
import LoomAudio
import LoomCheckpoint
import LoomData
import LoomImages
import LoomModels
import LoomTensor
import LoomTokenizer
import LoomTraining

/// Every parser that reads files from strangers, as a function of arbitrary bytes: what the libFuzzer
/// harness (`loom-fuzz`, tools/fuzz.sh) calls with each generated input, and what the test suite calls
/// with every committed corpus and regression input (Tests/LoomFuzzingTests/Corpus, Regressions).
///
/// A thrown error is the expected outcome for a bad input and is swallowed. Anything else — a trap
/// (overflow, index out of range, force unwrap), a sanitizer report, a hang or memory blow-up — is
/// a bug in Loom.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A safetensors file: header, layout checks, then every tensor decoded to Float32 or Int.
    case safetensors
    /// A config.json decoded as every configuration Loom reads: LLaMA/Qwen2, LLaVA, CLIP vision,
    /// Whisper, PEFT's adapter_config.json and both preprocessor configs.
    case config
    /// A tokenizer.json loaded, then used to encode and decode a few fixed texts.
    case tokenizerJSON = "tokenizer-json"
    /// Arbitrary text encoded (with placeholders) and decoded by the committed tokenizers.
    case tokenizerEncode = "tokenizer-encode"
    /// A LLaVA JSON or JSONL dataset (as `DatasetFile` tells them apart), every sample then tokenized
    /// with every chat template and tokenizer.
    case dataset
    /// A YAML training recipe.
    case recipe
    /// PNG or JPEG bytes decoded, then through the CLIP image processor, cropped and padded.
    case image
    /// WAV/FLAC/Ogg bytes decoded by libsndfile, resampled to 16 kHz and turned into Whisper log-mel features.
    case audio

    /// Runs the parser on `data`. `root` is the repository root, where the fixed tokenizers of
    /// `tokenizerEncode` and `dataset` are read from.
    public func run(_ data: Data, root: URL) {
        switch self {
        case .safetensors: Self.safetensors(data)
        case .config: Self.config(data)
        case .tokenizerJSON: Self.tokenizerJSON(data)
        case .tokenizerEncode: Self.tokenizerEncode(data, root: root)
        case .dataset: Self.dataset(data, root: root)
        case .recipe: Self.recipe(data)
        case .image: Self.image(data)
        case .audio: Self.audio(data)
        }
    }

    /// Loads what the target keeps for the whole process (the fixed tokenizers) before the first input,
    /// so that libFuzzer's per-input leak check does not count it.
    public func prepare(root: URL) {
        if self == .tokenizerEncode || self == .dataset { _ = FixedTokenizers.shared(root: root) }
    }

    // MARK: Targets

    private static func safetensors(_ data: Data) {
        guard let path = ScratchFile.write(data, name: "input.safetensors") else { return }
        guard let file = try? SafetensorsFile(path: path) else { return }
        for name in file.names {
            _ = try? file.tensor(name)
            _ = try? file.intTensor(name)
            _ = try? file.withRawBytes(name) { bytes in bytes.reduce(0 as UInt8, &+) }
        }
    }

    private static func config(_ data: Data) {
        _ = try? ConfigFile.decode(LlamaConfig.self, from: data, source: "fuzz")
        _ = try? ConfigFile.decode(LlavaConfig.self, from: data, source: "fuzz")
        _ = try? ConfigFile.decode(CLIPVisionConfig.self, from: data, source: "fuzz")
        _ = try? CLIPVisionConfig.decode(nestedAt: "vision_config", from: data, source: "fuzz")
        _ = try? ConfigFile.decode(WhisperConfig.self, from: data, source: "fuzz")
        _ = try? ConfigFile.decode(LoRAConfig.self, from: data, source: "fuzz")
        _ = try? PreprocessorConfig(json: data, source: "fuzz")
        _ = try? WhisperFeatureConfig(json: data, source: "fuzz")
    }

    static let sampleTexts = ["Hello world", "USER: <image>\nwhat colour is the circle? ASSISTANT: red</s>",
                              "  leading spaces, tabs\tand\nnewlines ", "ünïcödé 漢字 🙂", ""]

    private static func tokenizerJSON(_ data: Data) {
        guard let path = ScratchFile.write(data, name: "tokenizer.json"),
              let tokenizer = try? Tokenizer(tokenizerJSON: URL(fileURLWithPath: path)) else { return }
        for text in sampleTexts {
            let ids = tokenizer.encode(text)
            _ = tokenizer.decode(ids)
            _ = tokenizer.decode(ids, skipSpecialTokens: true)
        }
    }

    private static func tokenizerEncode(_ data: Data, root: URL) {
        // Invalid UTF-8 is replaced, as a caller decoding file bytes would.
        let text = String(decoding: data, as: UTF8.self)
        for tokenizer in FixedTokenizers.shared(root: root).all {
            let ids = tokenizer.encode(text)
            _ = tokenizer.decode(ids)
            _ = tokenizer.encode(text, addSpecialTokens: false)
            _ = tokenizer.encode(text, pair: text)
            _ = tokenizer.encodeWithPlaceholders(text, placeholders: [.image, .audio])
            // Arbitrary ids, in range or not, must decode without trapping.
            _ = tokenizer.decode(data.prefix(64).map { Int($0) * 37 - 100 })
        }
    }

    private static func dataset(_ data: Data, root: URL) {
        guard let path = ScratchFile.write(data, name: "dataset.json"),
              let (samples, _) = try? DatasetFile.read(path) else { return }
        let tokenizers = FixedTokenizers.shared(root: root).all
        for sample in samples.prefix(64) {
            for template in ChatTemplate.allCases {
                for tokenizer in tokenizers {
                    let conversations = ConversationTokenizer(template: template, tokenizer: tokenizer,
                                                              placeholders: [.image, .audio], legacy: sample.id.count % 2 == 0)
                    _ = try? conversations.tokenize(sample)
                }
            }
        }
    }

    private static func recipe(_ data: Data) {
        guard let path = ScratchFile.write(data, name: "recipe.yaml") else { return }
        _ = try? Recipe.load(path)
    }

    private static func image(_ data: Data) {
        guard let image = try? ImageDecoder.decode(data: data, name: "fuzz") else { return }
        // Loom's conversions: CLIP's resize (224), centre crop and normalisation, with and without LLaVA's
        // pad-to-square.
        let processor = CLIPImageProcessor()
        _ = try? processor.process(image, padToSquare: false, source: "fuzz")
        _ = try? processor.process(image, padToSquare: true, source: "fuzz")
    }

    private static func audio(_ data: Data) {
        guard let clip = try? AudioDecoder.decode(data: data, name: "fuzz") else { return }
        let mono = clip.resampled(to: 16_000)
        guard let extractor = try? WhisperFeatureExtractor() else { return }
        _ = try? extractor.features(mono.samples, sampleRate: mono.sampleRate)
    }
}

/// The tokenizers arbitrary text is encoded with: the demo language model's (byte-level BPE) and the
/// test fixtures' LLaMA-2 (SentencePiece-style Metaspace with byte fallback) and Qwen2 (regex split) ones.
private final class FixedTokenizers: @unchecked Sendable {
    let all: [Tokenizer]
    private static let lock = NSLock()
    private static var cached: FixedTokenizers?

    private init(root: URL) {
        let folders = ["checkpoints/demo-language-model", "Tests/LoomTokenizerTests/Fixtures/llama2_sentencepiece",
                       "Tests/LoomTokenizerTests/Fixtures/qwen2_split"]
        all = folders.compactMap { try? Tokenizer(tokenizerJSON: root.appendingPathComponent($0 + "/tokenizer.json")) }
        precondition(!all.isEmpty, "loom-fuzz: no tokenizer found under \(root.path); run it from the repository root")
    }

    static func shared(root: URL) -> FixedTokenizers {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        let made = FixedTokenizers(root: root)
        cached = made
        return made
    }
}

/// Parsers that take a path get the input through one file per process, in /dev/shm when there is one.
private enum ScratchFile {
    static let directory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = base + "/loom-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: ScratchFile.directory) }
        return path
    }()

    static func write(_ data: Data, name: String) -> String? {
        let path = directory + "/" + name
        return FileManager.default.createFile(atPath: path, contents: data) ? path : nil
    }
}
