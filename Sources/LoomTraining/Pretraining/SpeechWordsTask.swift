import Foundation
import LoomAudio
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// Pretrains a Whisper encoder on spoken sentences with CTC: a linear head reads each output frame as
/// one word or a blank, and the CTC loss sums over every alignment of the sentence's words to the
/// frames. The words must come out of the frames in order, but not where they are spoken: the encoder
/// attends over the whole clip, and the demo encoder puts the first words on the first frames and the
/// last word on the last frame, past the end of the speech. So the head is published with the weights
/// (`ctc_head.safetensors`): the audio modality's `ctc_words` hands a connector the words' own frames.
/// Clips are shifted by up to `maxShiftFrames` in training (silence in front).
final class SpeechWordsTask: PretrainTask {
    struct Sample {
        var media: String
        var features: Tensor      // [M, F]
        var words: [Int]          // vocabulary ids, 1…; 0 is the CTC blank
    }

    final class Bundle: Module {
        @Child var encoder: WhisperEncoder
        @Child var heads: WhisperCTCHead
        init(encoder: WhisperEncoder, heads: WhisperCTCHead) { self.encoder = encoder; self.heads = heads }
    }

    let recipe: PretrainRecipe
    let whisper: WhisperEncoder
    let heads: WhisperCTCHead
    let bundle: Bundle
    /// Index 0 is the CTC blank.
    let vocabulary: [String]
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
        var known = Set<String>()
        for record in trainRecords { known.formUnion(Self.words(record["text"] as? String ?? "")) }
        vocabulary = ["<blank>"] + known.sorted()
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        func decode(_ record: [String: Any], file: String) throws -> Sample {
            guard let audio = record["audio"] as? String, let text = record["text"] as? String else {
                throw RecipeError("\(file): a sample lacks \"audio\" or \"text\"")
            }
            let path = try recipe.mediaPath(audio, in: file)
            // A word never heard in training cannot be predicted: it is scored as an error, never trained on.
            let ids = Self.words(text).map { index[$0] ?? -1 }
            return Sample(media: path, features: try extractor.features(path: path, frames: config.inputFrames), words: ids)
        }
        log("speech pretraining: log-mel features of \(trainRecords.count + (evalRecords?.count ?? 0)) clips")
        let trainAll = try parallelMap(trainRecords.count) { try decode(trainRecords[$0], file: recipe.train) }
        let evalAll = try evalRecords.map { records in try parallelMap(records.count) { try decode(records[$0], file: recipe.eval!) } }
        (trainSamples, evalSamples) = try split(trainAll, eval: evalAll, evalSamples: recipe.evalSamples, media: \.media)
        whisper = WhisperEncoder(config)
        heads = WhisperCTCHead(dModel: config.dModel, vocabulary: vocabulary)
        bundle = Bundle(encoder: whisper, heads: heads)
        shiftGenerator = RandomGenerator(seed: recipe.seed &+ 0x5A1F)
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

    /// Per-frame log-probabilities over the blank and the words, [B, P, V].
    func logProbabilities(_ samples: [Sample], shifts: [Int]? = nil) throws -> Tensor {
        let features = shifts.map { zip(samples, $0).map { Self.shifted($0.features, by: $1) } } ?? samples.map(\.features)
        let h = try whisper(stacked(features))                                          // [B, P, D]
        return logSoftmax(heads(h), axis: -1)                                     // [B, P, V]
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
        let batch = indices.map { trainSamples[$0] }.filter { !$0.words.contains(-1) }
        let shifts = batch.map { _ in shiftGenerator.int(below: maxShiftFrames + 1) }
        // A clip too fast for its frames (no alignment) teaches nothing rather than stopping the run.
        return try ctcLoss(logProbs: logProbabilities(batch, shifts: shifts), targets: batch.map(\.words), zeroInfinity: true)
    }

    /// Greedy CTC transcripts of the held-out clips: word accuracy is 1 − the word error rate over
    /// them all, sentence accuracy the share transcribed exactly.
    func evaluate() throws -> [String: Double] {
        var predictions: [String] = [], references: [String] = []
        try withoutGradients {
            for start in stride(from: 0, to: evalSamples.count, by: 64) {
                let batch = Array(evalSamples[start..<min(start + 64, evalSamples.count)])
                let decoded = ctcGreedyDecode(logProbs: try logProbabilities(batch))
                predictions += decoded.map(text)
                references += batch.map { text($0.words) }
            }
        }
        let exact = zip(predictions, references).filter { $0 == $1 }.count
        return ["word_accuracy": 1 - TaskMetrics.wordErrorRate(predictions: predictions, references: references),
                "sentence_accuracy": Double(exact) / Double(max(references.count, 1))]
    }

    /// The head goes beside the weights (`ctc_head.safetensors`), for the audio modality's `ctc_words`.
    func writeExtras(to directory: URL) throws { try heads.write(to: directory.path) }

    /// Words of vocabulary ids; an id of −1 (a word never heard in training) reads as "<unknown>".
    func text(_ ids: [Int]) -> String { ids.map { $0 >= 0 ? vocabulary[$0] : "<unknown>" }.joined(separator: " ") }

    var cardDescription: [String] {
        let c = whisper.config
        return ["Whisper encoder (transformers `WhisperEncoder`, model_type `whisper`, encoder weights only): \(c.numMelBins) mel bins, \(c.inputFrames) input frames, d_model \(c.dModel), \(c.encoderLayers) layers, \(c.encoderAttentionHeads) heads, FFN \(c.encoderFfnDim), \(whisper.parameterCount) parameters.",
                "Objective: CTC over the output frames. A linear head reads each frame as one of \(vocabulary.count - 1) words or a blank; the loss sums over every alignment of the sentence's words to the frames, so the words come out of the frames in order, though not where they are spoken (the encoder attends over the whole clip: the demo encoder puts the first words on the first frames and the last word on the last frame). Clips are shifted by up to \(maxShiftFrames) frames of leading silence in training. The head is published beside the weights as `\(WhisperCTCHead.fileName)` (the words in its metadata), for the audio modality's `ctc_words` option. Quality: greedy CTC transcripts of held-out clips (word accuracy = 1 − word error rate)."]
    }
}
