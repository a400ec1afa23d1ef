import Foundation

/// The four groups of files the world writes; `--splits` picks among them.
public enum DemoSplit: String, CaseIterable, Sendable {
    /// pretrain/vision.json, speech.json, text.json and tokenizer_corpus.txt
    case pretrain
    /// stage1/captions.json, transcripts.json, spoken_text_qa.json (+ *_eval.json)
    case stage1
    /// stage2/image_qa.json, spoken_qa.json (+ *_eval.json)
    case stage2
    /// test/image_qa.json, spoken_qa.json, captions.json: held-out scenes only
    case test
}

/// What `DemoWorld.generate` writes. Every count may be 0; the defaults are those of
/// `loom make-demo-data`.
public struct DemoWorldOptions: Sendable {
    public var outputDirectory: URL
    /// The only source of randomness: the same seed writes byte-identical files.
    public var seed: UInt64 = 0
    public var splits: Set<DemoSplit> = Set(DemoSplit.allCases)

    public var pretrainVisionImages = 6000
    public var pretrainSpeech = 12000
    public var pretrainText = 40000
    public var stage1Images = 4000
    public var stage1Speech = 3000
    /// stage1/spoken_text_qa.json: a scene in grid notation and a spoken question about it → answer.
    public var stage1SpokenTextQA = 3000
    public var stage2ImageQA = 6000
    /// Questions per stage-2 image conversation (different ones, when the scene allows).
    public var stage2ImageQARounds = 4
    public var stage2SpokenQA = 6000
    public var testQA = 300
    public var testSpokenQA = 300
    public var testCaptions = 200
    /// Samples in each stage 1/stage 2 *_eval.json file (training scenes, for eval loss).
    public var evalSamples = 100

    /// Concurrent espeak-ng processes.
    public var speechWorkers = 2
    /// Threads rendering and encoding images.
    public var renderThreads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// A progress line on stderr while speech is synthesised.
    public var showsProgress = true

    public init(outputDirectory: URL) { self.outputDirectory = outputDirectory }

    /// Each count with its command-line flag, in the order world.json lists them.
    public var counts: [(flag: String, value: Int)] {
        [("pretrain-vision-images", pretrainVisionImages), ("pretrain-speech", pretrainSpeech),
         ("pretrain-text", pretrainText), ("stage1-images", stage1Images), ("stage1-speech", stage1Speech),
         ("stage1-spoken-text-qa", stage1SpokenTextQA),
         ("stage2-image-qa", stage2ImageQA), ("stage2-spoken-qa", stage2SpokenQA), ("test-qa", testQA),
         ("test-spoken-qa", testSpokenQA), ("test-captions", testCaptions), ("eval-samples", evalSamples)]
    }

    public func validate() throws {
        for (flag, value) in counts where value < 0 {
            throw WorldError("--\(flag) must not be negative, got \(value)")
        }
        guard stage2ImageQARounds > 0 else { throw WorldError("--stage2-image-qa-rounds must be positive, got \(stage2ImageQARounds)") }
        guard speechWorkers > 0 else { throw WorldError("speech workers must be positive, got \(speechWorkers)") }
        guard renderThreads > 0 else { throw WorldError("render threads must be positive, got \(renderThreads)") }
    }

    /// "pretrain,stage1" → [.pretrain, .stage1]; "all" → every split.
    public static func parseSplits(_ text: String) throws -> Set<DemoSplit> {
        var splits: Set<DemoSplit> = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) {
            if name == "all" { return Set(DemoSplit.allCases) }
            guard let split = DemoSplit(rawValue: name) else {
                throw WorldError("unknown split '\(name)' (expected some of "
                                 + "\(DemoSplit.allCases.map(\.rawValue).joined(separator: ",")) or all)")
            }
            splits.insert(split)
        }
        guard !splits.isEmpty else { throw WorldError("--splits names no split") }
        return splits
    }
}
