import Foundation
import LoomAudio
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// Pretrains a Whisper encoder on spoken sentences: one learned query per word position attends over
/// the encoder's output frames, and a shared head reads the word there (or the end of the sentence)
/// from what it gathered. The frames must therefore say, locally, which word is spoken where: a
/// frozen encoder trained this way hands the words, in order, to the connector. Clips are shifted by
/// up to `maxShiftFrames` in training (silence in front), so words are not tied to fixed frames.
final class SpeechWordsTask: PretrainTask {
    struct Sample {
        var media: String
        var features: Tensor      // [M, F]
        var words: [Int]          // per position; 0 = end of sentence
    }

    final class Heads: Module {
        @Parameter var queries: Tensor   // [positions, D]
        @Child var words: Linear
        init(dim: Int, positions: Int, vocabulary: Int) {
            queries = Tensor(zeros: [positions, dim])
            words = Linear(dim, vocabulary)
        }
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
    var shiftGenerator: RandomGenerator

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
            let path = try recipe.mediaPath(audio, in: file)
            var ids = Self.words(text).map { index[$0] ?? -100 }   // a word never heard in training is not scored
            ids = Array(ids.prefix(positions - 1))
            ids += [Int](repeating: 0, count: positions - ids.count)
            return Sample(media: path, features: try extractor.features(path: path, frames: config.inputFrames), words: ids)
        }
        log("speech pretraining: log-mel features of \(trainRecords.count + (evalRecords?.count ?? 0)) clips")
        let trainAll = try parallelMap(trainRecords.count) { try decode(trainRecords[$0], file: recipe.train) }
        let evalAll = try evalRecords.map { records in try parallelMap(records.count) { try decode(records[$0], file: recipe.eval!) } }
        (trainSamples, evalSamples) = try split(trainAll, eval: evalAll, evalSamples: recipe.evalSamples, media: \.media)
        whisper = WhisperEncoder(config)
        heads = Heads(dim: config.dModel, positions: positions, vocabulary: vocabulary.count)
        bundle = Bundle(encoder: whisper, heads: heads)
        shiftGenerator = RandomGenerator(seed: recipe.seed &+ 0x5A1F)
        var rng = RandomGenerator(seed: recipe.seed)
        bundle.initializeParameters(std: 0.02, generator: &rng)
        // Queries start at unit scale so attention is not uniform from the start.
        let queries = rng.normal(count: heads.queries.count)
        heads.queries.withUnsafeMutableBufferPointer { buffer in for i in 0..<queries.count { buffer[i] = queries[i] } }
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

    func logits(_ samples: [Sample], shifts: [Int]? = nil) throws -> Tensor {
        let features = shifts.map { zip(samples, $0).map { Self.shifted($0.features, by: $1) } } ?? samples.map(\.features)
        let h = try whisper(stacked(features))                                          // [B, P, D]
        let d = h.shape[2]
        let scores = matmul(heads.queries, h.transposed(1, 2)) * (1 / Float(d).squareRoot())  // [B, L, P]
        let gathered = matmul(softmax(scores, axis: -1), h)                             // [B, L, D]
        return heads.words(gathered).reshaped([samples.count * positions, vocabulary.count])
    }

    /// Frames moved `k` later, the first k filled with the clip's last frame (the padding silence).
    static func shifted(_ features: Tensor, by k: Int) -> Tensor {
        guard k > 0 else { return features }
        let (m, f) = (features.shape[0], features.shape[1])
        let x = features.scalars
        var y = [Float](repeating: 0, count: x.count)
        for row in 0..<m {
            let silence = x[row * f + f - 1]
            for t in 0..<f { y[row * f + t] = t < k ? silence : x[row * f + t - k] }
        }
        return Tensor(shape: [m, f], scalars: y)
    }

    /// Up to half a second of leading silence.
    var maxShiftFrames: Int { whisper.config.inputFrames / 10 }

    func loss(_ indices: [Int]) throws -> Tensor {
        let batch = indices.map { trainSamples[$0] }
        let shifts = indices.map { _ in shiftGenerator.int(below: maxShiftFrames + 1) }
        return try crossEntropy(logits: logits(batch, shifts: shifts), targets: IntTensor(batch.flatMap(\.words)))
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
                        let predicted = argmax(values, row: row, classes: v)
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

    var cardDescription: [String] {
        let c = whisper.config
        return ["Whisper encoder (transformers `WhisperEncoder`, model_type `whisper`, encoder weights only): \(c.numMelBins) mel bins, \(c.inputFrames) input frames, d_model \(c.dModel), \(c.encoderLayers) layers, \(c.encoderAttentionHeads) heads, FFN \(c.encoderFfnDim), \(whisper.parameterCount) parameters.",
                "Objective: one learned query per word position (\(positions) positions) attends over the output frames; a shared linear head reads the word spoken there among \(vocabulary.count - 1) words, or the end of the sentence. Clips are shifted by up to \(maxShiftFrames) frames of leading silence in training. The heads are not part of the published weights."]
    }
}
