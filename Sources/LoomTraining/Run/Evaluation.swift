import Foundation
import LoomData
import LoomModels
import LoomTensor

/// `loom eval`: eval loss and task metrics on a stage's held-out data.
public struct EvaluationReport: Codable {
    public var stage: String
    public var samples: Int
    public var evalLoss: Double?
    /// Short answers (at most three words): fraction answered exactly.
    public var exactMatch: Double?
    public var exactMatchCount: Int
    /// Captions (the plain template, images): corpus BLEU-4.
    public var bleu4: Double?
    public var captionCount: Int
    /// Transcripts (the plain template, audio): word error rate.
    public var wordErrorRate: Double?
    public var transcriptCount: Int
    /// Every generated reply with its reference, in the order evaluated.
    public var examples: [Example]

    public struct Example: Codable {
        public var id: String
        public var reference: String
        public var prediction: String
    }

    enum CodingKeys: String, CodingKey {
        case stage, samples, evalLoss = "eval_loss", exactMatch = "exact_match", exactMatchCount = "exact_match_count"
        case bleu4 = "bleu4", captionCount = "caption_count", wordErrorRate = "wer", transcriptCount = "transcript_count", examples
    }

    public var summary: String {
        var parts = ["stage \(stage): \(samples) samples"]
        if let evalLoss { parts.append(String(format: "eval loss %.4f", evalLoss)) }
        if let exactMatch { parts.append(String(format: "exact match %.1f%% (%d)", 100 * exactMatch, exactMatchCount)) }
        if let bleu4 { parts.append(String(format: "BLEU-4 %.2f (%d captions)", 100 * bleu4, captionCount)) }
        if let wordErrorRate { parts.append(String(format: "WER %.1f%% (%d transcripts)", 100 * wordErrorRate, transcriptCount)) }
        return parts.joined(separator: ", ")
    }
}

public enum Evaluation {
    /// Evaluates `stage`'s eval data with the model as it is now (load the run's results first).
    /// Each sample's first assistant reply is generated from the turns before it.
    public static func run(_ run: TrainingRun, stage: StageRecipe, maxSamples: Int? = nil, maxNewTokens: Int = 32) throws -> EvaluationReport {
        let data = run.recipe.data.merged(with: stage.data)
        guard let files = data.eval, !files.isEmpty else {
            throw RecipeError("stage \(stage.name) has no eval data (data.eval in \(run.recipe.source))")
        }
        var report = EvaluationReport(stage: stage.name, samples: 0, exactMatchCount: 0, captionCount: 0, transcriptCount: 0, examples: [])
        if let loader = try run.makeLoader(stage, files: files, data: data, what: "eval") {
            report.evalLoss = try evaluationLoss(run.model, loader)
        }
        let skipLog = SkipLog()
        var conversations = try run.readConversations(files, data: data, skipLog: skipLog)
        if let maxSamples { conversations = Array(conversations.prefix(maxSamples)) }
        let responder = Responder(run: run, stage: stage, options: GenerationOptions(maxNewTokens: maxNewTokens))
        var exact: [Bool] = [], captions: [(String, String)] = [], transcripts: [(String, String)] = []
        for conversation in conversations {
            let turns = conversation.turns.drop(while: { $0.role != .user })
            guard let answerIndex = turns.firstIndex(where: { $0.role == .assistant }) else { continue }
            let reference = turns[answerIndex].value
            let prediction: String
            do {
                prediction = try responder.reply(to: Array(turns[..<answerIndex]), media: conversation.media)
            } catch {
                skipLog.record("generation failed", "sample \(conversation.id): \(error)")
                continue
            }
            report.samples += 1
            report.examples.append(.init(id: conversation.id, reference: reference, prediction: prediction))
            if stage.template == .plain {
                if conversation.media["audio"] != nil { transcripts.append((prediction, reference)) } else { captions.append((prediction, reference)) }
            } else if TaskMetrics.words(reference).count <= 3 {
                exact.append(TaskMetrics.exactMatch(prediction, reference))
            }
        }
        if !exact.isEmpty {
            report.exactMatch = Double(exact.filter { $0 }.count) / Double(exact.count)
            report.exactMatchCount = exact.count
        }
        if !captions.isEmpty {
            report.bleu4 = TaskMetrics.bleu4(predictions: captions.map(\.0), references: captions.map(\.1))
            report.captionCount = captions.count
        }
        if !transcripts.isEmpty {
            report.wordErrorRate = TaskMetrics.wordErrorRate(predictions: transcripts.map(\.0), references: transcripts.map(\.1))
            report.transcriptCount = transcripts.count
        }
        return report
    }
}

/// Mean next-token loss over every supervised token of one epoch of `loader`, with no tape.
public func evaluationLoss(_ model: MultimodalLM, _ loader: DataLoader) throws -> Double {
    let wasTraining = model.isTraining
    model.setTraining(false)
    defer { model.setTraining(wasTraining) }
    var total = 0.0, tokens = 0
    let stream = loader.batches(from: DataPosition())
    while let batch = try stream.nextBatch() {
        // One shard of samples per core, as training runs (the recording switch is per thread).
        let shards = batch.shards(SampleParallel.shardCount(samples: batch.batchSize)).filter { $0.supervisedCount > 0 }
        total += try SampleParallel.map(shards.count) { s in
            try withoutGradients {
                let shard = shards[s]
                return Double(try model.loss(inputIds: shard.inputIds, labels: shard.labels, media: shard.modalityInputs,
                                             attentionMask: shard.attentionMask, reduction: .sum).item)
            }
        }.reduce(0, +)
        tokens += batch.supervisedCount
    }
    return total / Double(max(tokens, 1))
}
