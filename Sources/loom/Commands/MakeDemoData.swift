import ArgumentParser
import Foundation
import LoomWorld

/// `loom make-demo-data`: writes the synthetic demo world (LoomWorld's `DemoWorld.generate`).
struct MakeDemoData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-demo-data",
        abstract: "Write a deterministic synthetic world of shapes: images, captions, questions, spoken questions.",
        discussion: """
        64×64 scenes of 1–3 coloured shapes on a 4×4 grid, as LLaVA JSON (media paths relative to --output):
          pretrain/vision.json, speech.json, text.json, tokenizer_corpus.txt
          stage1/captions.json, transcripts.json, spoken_text_qa.json (+ *_eval.json)
          stage2/image_qa.json, spoken_qa.json (+ *_eval.json)
          test/image_qa.json, spoken_qa.json, captions.json (scenes never seen in any other split)
          world.json, images/NNNNNN.png, speech/<hash>.wav (16 kHz mono, spoken by espeak-ng)
        The same --seed writes byte-identical files. Existing speech clips are reused.
        """)

    @Option(help: "Folder to write into (created if missing).") var output: String
    @Option(help: "The only source of randomness.") var seed: UInt64 = 0
    @Option(help: "Splits to write, comma-separated: pretrain,stage1,stage2,test or all.") var splits = "all"

    @Option(help: "pretrain/vision.json images.") var pretrainVisionImages = Self.defaults.pretrainVisionImages
    @Option(help: "pretrain/speech.json clips.") var pretrainSpeech = Self.defaults.pretrainSpeech
    @Option(help: "pretrain/text.json conversations.") var pretrainText = Self.defaults.pretrainText
    @Option(help: "stage1/captions.json samples.") var stage1Images = Self.defaults.stage1Images
    @Option(help: "stage1/transcripts.json samples.") var stage1Speech = Self.defaults.stage1Speech
    @Option(name: .customLong("stage1-spoken-text-qa"), help: "stage1/spoken_text_qa.json samples (grid-notation scene + spoken question → answer).")
    var stage1SpokenTextQA = Self.defaults.stage1SpokenTextQA
    @Option(name: .customLong("stage2-image-qa"), help: "stage2/image_qa.json samples.") var stage2ImageQA = Self.defaults.stage2ImageQA
    @Option(name: .customLong("stage2-image-qa-rounds"), help: "Questions per stage2/image_qa.json conversation.")
    var stage2ImageQARounds = Self.defaults.stage2ImageQARounds
    @Option(name: .customLong("stage2-spoken-qa"), help: "stage2/spoken_qa.json samples.") var stage2SpokenQA = Self.defaults.stage2SpokenQA
    @Option(name: .customLong("test-qa"), help: "test/image_qa.json samples.") var testQA = Self.defaults.testQA
    @Option(name: .customLong("test-spoken-qa"), help: "test/spoken_qa.json samples.") var testSpokenQA = Self.defaults.testSpokenQA
    @Option(help: "test/captions.json samples.") var testCaptions = Self.defaults.testCaptions
    @Option(help: "Samples in each stage1/stage2 *_eval.json.") var evalSamples = Self.defaults.evalSamples
    @Option(help: "Concurrent espeak-ng processes.") var speechWorkers = Self.defaults.speechWorkers

    /// The library's defaults (one place for them).
    static let defaults = DemoWorldOptions(outputDirectory: URL(fileURLWithPath: "."))

    func validate() throws {
        do {
            try options().validate()
        } catch let error as WorldError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        print(try DemoWorld.generate(options: options()))
    }

    func options() throws -> DemoWorldOptions {
        var options = DemoWorldOptions(outputDirectory: URL(fileURLWithPath: output, isDirectory: true))
        options.seed = seed
        options.splits = try DemoWorldOptions.parseSplits(splits)
        options.pretrainVisionImages = pretrainVisionImages
        options.pretrainSpeech = pretrainSpeech
        options.pretrainText = pretrainText
        options.stage1Images = stage1Images
        options.stage1Speech = stage1Speech
        options.stage1SpokenTextQA = stage1SpokenTextQA
        options.stage2ImageQA = stage2ImageQA
        options.stage2ImageQARounds = stage2ImageQARounds
        options.stage2SpokenQA = stage2SpokenQA
        options.testQA = testQA
        options.testSpokenQA = testSpokenQA
        options.testCaptions = testCaptions
        options.evalSamples = evalSamples
        options.speechWorkers = speechWorkers
        return options
    }
}
