import ArgumentParser
import Foundation
import LoomTokenizer

/// Trains a byte-level BPE tokenizer on text files and writes a Hugging Face tokenizer folder.
struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Train a byte-level BPE tokenizer (GPT-2 style, LLaMA-style specials) on text files.",
        discussion: """
        Every non-empty line of every input file (UTF-8) is one text, without its line break (a \
        "\\r" before it is kept). Merges are learned until the vocabulary has --vocab-size tokens \
        (special tokens and the 256 byte symbols included) or no pair of symbols occurs \
        --min-frequency times.

        The output folder gets tokenizer.json, tokenizer_config.json and special_tokens_map.json. \
        Special tokens: <s> (id 0, put before every sequence), </s> (1), <pad> (2), then each \
        --special-token. See docs/tokenizer-training.md.
        """)

    @Option(name: .customLong("input"), parsing: .upToNextOption, help: "Text files, one text per line.")
    var inputs: [String]
    @Option(help: "Vocabulary size to reach, special tokens and the 256 byte symbols included.")
    var vocabSize: Int
    @Option(help: "Pairs seen fewer times than this are never merged.")
    var minFrequency = 2
    @Option(name: .customLong("special-token"), help: "An extra special token after <s>, </s>, <pad> (repeatable).")
    var specialTokens: [String] = []
    @Option(help: "model_max_length written to tokenizer_config.json.")
    var modelMaxLength = 2048
    @Option(help: "Folder to write the tokenizer into (created if needed).")
    var output: String

    var options: BPETrainingOptions {
        BPETrainingOptions(vocabularySize: vocabSize, minimumFrequency: minFrequency,
                           extraSpecialTokens: specialTokens, modelMaxLength: modelMaxLength)
    }

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one --input file") }
        do {
            try options.validate()
        } catch let error as TokenizerError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let options = self.options
        let trainer = try BPETrainer(options: options)
        let start = DispatchTime.now().uptimeNanoseconds
        for input in inputs {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: input))
            } catch {
                throw TrainTokenizerError("\(input): cannot read the file (\(error.localizedDescription))")
            }
            do {
                try trainer.addLines(of: data, source: input)
            } catch let error as TokenizerError {
                throw TrainTokenizerError(error.description)
            }
        }
        let counted = DispatchTime.now().uptimeNanoseconds
        let trained = trainer.train()
        let learned = DispatchTime.now().uptimeNanoseconds
        try trained.write(to: URL(fileURLWithPath: output))
        func seconds(_ from: UInt64, _ to: UInt64) -> Double { Double(to - from) / 1e9 }

        let s = trained.statistics
        print(String(format: "corpus: %d lines, %.2f MB, %d distinct words", s.lines, Double(s.bytes) / 1e6, s.distinctWords))
        print("vocabulary: \(trained.tokens.count) tokens (\(options.specialTokens.count) special, 256 bytes, "
              + "\(trained.tokens.count - options.minimumVocabularySize) merged), \(trained.merges.count) merges")
        if trained.tokens.count < vocabSize {
            print("  (stopped before \(vocabSize): no pair occurs \(minFrequency) times or more)")
        }
        print(String(format: "compression: %.3f bytes per token (%d tokens)", s.bytesPerToken, s.tokens))
        print(String(format: "time: %.2f s (counting %.2f s, merging %.2f s)", seconds(start, learned),
                     seconds(start, counted), seconds(counted, learned)))
        print("wrote \(output)/{\(TrainedBPE.tokenizerFileName), \(TrainedBPE.configurationFileName), \(TrainedBPE.specialTokensMapFileName)}")
    }
}

/// A problem with the command's files, reported without the usage text.
struct TrainTokenizerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
