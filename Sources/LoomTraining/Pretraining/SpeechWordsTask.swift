import Foundation
import LoomAudio
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// Pretrains a Whisper encoder on spoken sentences: from the mean of its output frames, one head per
/// word position predicts the word there (or the end of the sentence). A frozen encoder trained this
/// way carries the words spoken, in order, for the connector to hand to the language model.
final class SpeechWordsTask: PretrainTask {
    struct Sample {
        var features: Tensor      // [M, F]
        var words: [Int]          // per position; 0 = end of sentence
    }

    final class Heads: Module {
        @Child var words: Linear
        init(dim: Int, positions: Int, vocabulary: Int) { words = Linear(dim, positions * vocabulary) }
    }

    final class Bundle: Module {
        @Child var encoder: WhisperEncoder
        @Child var heads: Heads
        init(encoder: WhisperEncoder, heads: Heads) { self.encoder = encoder; self.heads = heads }
    }

    let recipe: PretrainRecipe
    let whisper: WhisperEncoder
    let heads: Heads
    let bundle: Bundle
    /// Index 0 is the end of the sentence.
    let vocabulary: [String]
    let positions: Int
    let trainSamples: [Sample], evalSamples: [Sample]

    var encoder: Module { whisper }
    var trainable: Module { bundle }
    var trainCount: Int { trainSamples.count }
    var headlineMetric: String { "word_accuracy" }

    static func words(_ text: String) -> [String] {
        text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "'" }).map(String.init)
    }

    init(recipe: PretrainRecipe, log: (String) -> Void) throws {
        self.recipe = recipe
        let config = try WhisperConfig.decode(from: URL(fileURLWithPath: recipe.modelConfig))
        let extractor = try WhisperFeatureExtractor(preprocessorConfig: URL(fileURLWithPath: recipe.preprocessorConfig))
        guard extractor.outputFrames() == config.inputFrames else {
            throw RecipeError("\(recipe.preprocessorConfig) makes \(extractor.outputFrames()) frames per clip; the encoder (max_source_positions \(config.maxSourcePositions)) needs \(config.inputFrames): make chunk_length · sampling_rate / hop_length equal 2 × max_source_positions")
        }
        let trainRecords = try readJSONArray(recipe.train)
        let evalRecords = try recipe.eval.map(readJSONArray)
        var known = Set<String>(), longest = 0
        for record in trainRecords {
            let w = Self.words(record["text"] as? String ?? "")
            known.formUnion(w)
            longest = max(longest, w.count)
        }
        vocabulary = ["</end>"] + known.sorted()
        positions = longest + 1
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        let positions = self.positions
        func decode(_ record: [String: Any], file: String) throws -> Sample {
            guard let audio = record["audio"] as? String, let text = record["text"] as? String else {
                throw RecipeError("\(file): a sample lacks \"audio\" or \"text\"")
            }
            let path = recipe.mediaPath(audio, in: file)
            var ids = Self.words(text).map { index[$0] ?? -100 }   // a word never heard in training is not scored
            ids = Array(ids.prefix(positions - 1))
            ids += [Int](repeating: 0, count: positions - ids.count)
            return Sample(features: try extractor.features(path: path, frames: config.inputFrames), words: ids)
        }
        log("speech pretraining: log-mel features of \(trainRecords.count + (evalRecords?.count ?? 0)) clips")
        let trainAll = try parallelMap(trainRecords.count) { try decode(trainRecords[$0], file: recipe.train) }
        let evalAll = try evalRecords.map { records in try parallelMap(records.count) { try decode(records[$0], file: recipe.eval!) } }
        (trainSamples, evalSamples) = try split(trainAll, eval: evalAll, evalSamples: recipe.evalSamples)
        whisper = WhisperEncoder(config)
        heads = Heads(dim: config.dModel, positions: positions, vocabulary: vocabulary.count)
        bundle = Bundle(encoder: whisper, heads: heads)
        var rng = RandomGenerator(seed: recipe.seed)
        bundle.initializeParameters(std: 0.02, generator: &rng)
        // Whisper's position embeddings are fixed sinusoids (transformers never trains them).
        let table = Self.sinusoids(length: config.maxSourcePositions, channels: config.dModel)
        whisper.embedPositions.weight.withUnsafeMutableBufferPointer { buffer in for i in 0..<table.count { buffer[i] = table[i] } }
        bundle.unfreeze()
        whisper.embedPositions.weight.requiresGradient = false
    }

    /// Whisper's sinusoidal table [length, channels]: sin in the first half, cos in the second, with
    /// timescales from 1 to 10000.
    static func sinusoids(length: Int, channels: Int) -> [Float] {
        let half = channels / 2
        let increment = log(10000.0) / Double(half - 1)
        var table = [Float](repeating: 0, count: length * channels)
        for t in 0..<length {
            for i in 0..<half {
                let angle = Double(t) * exp(-increment * Double(i))
                table[t * channels + i] = Float(sin(angle))
                table[t * channels + half + i] = Float(cos(angle))
            }
        }
        return table
    }

    func logits(_ samples: [Sample]) throws -> Tensor {
        let h = try whisper(stacked(samples.map(\.features)))                         // [B, P, D]
        let pooled = mean(h, axis: 1)                                                   // [B, D]
        return heads.words(pooled).reshaped([samples.count * positions, vocabulary.count])
    }

    func loss(_ indices: [Int]) throws -> Tensor {
        let batch = indices.map { trainSamples[$0] }
        return try crossEntropy(logits: logits(batch), targets: IntTensor(batch.flatMap(\.words)))
    }

    func evaluate() throws -> [String: Double] {
        var words = (0, 0), sentences = (0, 0)
        try withoutGradients {
            for start in stride(from: 0, to: evalSamples.count, by: 64) {
                let batch = Array(evalSamples[start..<min(start + 64, evalSamples.count)])
                let values = try logits(batch).scalars
                let v = vocabulary.count
                for (b, sample) in batch.enumerated() {
                    var allRight = true
                    for p in 0..<positions {
                        let row = b * positions + p
                        let predicted = (0..<v).max { values[row * v + $0] < values[row * v + $1] }!
                        let truth = sample.words[p]
                        if truth > 0 { words.1 += 1; if predicted == truth { words.0 += 1 } }
                        if predicted != truth { allRight = false }
                        if truth == 0 { break }
                    }
                    sentences.1 += 1
                    if allRight { sentences.0 += 1 }
                }
            }
        }
        return ["word_accuracy": Double(words.0) / Double(max(words.1, 1)),
                "sentence_accuracy": Double(sentences.0) / Double(max(sentences.1, 1))]
    }

    func writeModel(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try copyReplacing(recipe.modelConfig, to: directory.appendingPathComponent("config.json"))
        try copyReplacing(recipe.preprocessorConfig, to: directory.appendingPathComponent("preprocessor_config.json"))
        // transformers' WhisperEncoder.save_pretrained layout: the encoder's own keys, no prefix.
        try SafetensorsWriter.write(whisper.namedParameters().map { SafetensorsWriter.Entry($0.key, $0.tensor) }, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors").path)
    }

    var cardDescription: [String] {
        let c = whisper.config
        return ["Whisper encoder (transformers `WhisperEncoder`, model_type `whisper`, encoder weights only): \(c.numMelBins) mel bins, \(c.inputFrames) input frames, d_model \(c.dModel), \(c.encoderLayers) layers, \(c.encoderAttentionHeads) heads, FFN \(c.encoderFfnDim), \(whisper.parameterCount) parameters.",
                "Objective: from the mean of the output frames, one linear head per word position (\(positions) positions) predicts the word spoken there among \(vocabulary.count - 1) words, or the end of the sentence. The heads are not part of the published weights."]
    }
}
