import Foundation
import LoomCheckpoint
import LoomNN
import LoomTensor

/// `loom pretrain`: trains a pretraining task's encoder and heads with AdamW (cosine schedule, warm-up,
/// gradient clipping), evaluates on held-out samples, and writes a Hugging Face folder with a model
/// card, the loss curve and metrics.
public final class Pretrainer {
    public let recipe: PretrainRecipe
    public var log: (String) -> Void = { print($0) }

    public init(recipe: PretrainRecipe) { self.recipe = recipe }

    /// Trains and writes `output` (config.json, model.safetensors, preprocessor_config.json, README.md,
    /// loss.png, metrics.jsonl); returns the held-out metrics.
    @discardableResult
    public func run(output: URL) throws -> [String: Double] {
        let started = Date()
        let task: PretrainTask
        switch recipe.task {
        case .visionAttributes: task = try VisionAttributeTask(recipe: recipe, log: log)
        case .speechWords: task = try SpeechWordsTask(recipe: recipe, log: log)
        }
        let named = task.trainable.trainableParameters.map { (name: $0.key, parameter: $0.tensor) }
        let optimizer = AdamW(ParameterGroup.splitByWeightDecay(named, learningRate: recipe.learningRate, weightDecay: recipe.weightDecay))
        let warmup = LearningRateSchedule.warmupSteps(totalSteps: recipe.steps, warmupRatio: recipe.warmupRatio)
        let schedule = LearningRateSchedule(kind: .cosine, totalSteps: recipe.steps, warmupSteps: warmup)
        let scheduler = LearningRateScheduler(optimizer: optimizer, schedule: schedule)
        log("\(recipe.name): \(task.encoder.parameterCount) encoder parameters, \(task.trainCount) training samples, \(recipe.steps) steps of \(recipe.batchSize)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let metricsURL = output.appendingPathComponent("metrics.jsonl")
        try? FileManager.default.removeItem(at: metricsURL)
        var order: [Int] = [], cursor = 0
        var rng = RandomGenerator(seed: recipe.seed &+ 1)
        var losses: [(Double, Double)] = [], evals: [(Double, Double)] = []
        var lines: [String] = []
        let progress = ProgressReporter(label: recipe.name, total: recipe.steps, every: recipe.logEvery)
        task.trainable.setTraining(true)
        for step in 1...recipe.steps {
            let t0 = Date()
            var batch: [Int] = []
            while batch.count < recipe.batchSize {
                if cursor == order.count {
                    order = Array(0..<task.trainCount)
                    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
                    cursor = 0
                }
                batch.append(order[cursor]); cursor += 1
            }
            optimizer.zeroGradients()
            let loss = try task.loss(batch)
            let value = Double(loss.item)
            guard value.isFinite else { throw RecipeError("\(recipe.name): non-finite loss at step \(step); lower learning_rate") }
            loss.backward()
            let norm = recipe.maxGradNorm > 0 ? clipGradientNorm(optimizer.parameters, maxNorm: recipe.maxGradNorm) : 0
            let lr = recipe.learningRate * schedule.multiplier(step: step - 1)
            optimizer.step()
            scheduler.step()
            losses.append((Double(step), value))
            lines.append(String(format: "{\"step\":%d,\"loss\":%.6f,\"learning_rate\":%.6e,\"grad_norm\":%.4f}", step, value, lr, norm))
            progress.update(step: step, loss: value, learningRate: lr,
                            tokensPerSecond: Double(recipe.batchSize) / max(Date().timeIntervalSince(t0), 1e-9))
            if recipe.evalEvery > 0 && step % recipe.evalEvery == 0 && step < recipe.steps {
                task.trainable.setTraining(false)
                let metrics = try task.evaluate()
                task.trainable.setTraining(true)
                evals.append((Double(step), metrics[task.headlineMetric] ?? 0))
                progress.message("step \(step): " + Self.describe(metrics))
                lines.append(try Self.json(["step": Double(step)].merging(metrics) { a, _ in a }))
            }
        }
        task.trainable.setTraining(false)
        let metrics = try task.evaluate()
        lines.append(try Self.json(["step": Double(recipe.steps)].merging(metrics) { a, _ in a }))
        try (lines.joined(separator: "\n") + "\n").write(to: metricsURL, atomically: true, encoding: .utf8)
        log("held-out: " + Self.describe(metrics))
        try writeModel(task.encoder, to: output)
        try task.writeExtras(to: output)
        try LossPlot.write(train: losses, eval: [], title: "\(recipe.name): training loss", to: output.appendingPathComponent("loss.png").path)
        let seconds = Date().timeIntervalSince(started)
        try modelCard(task: task, metrics: metrics, seconds: seconds).write(to: output.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        log(String(format: "\(recipe.name): done in %.0f s; model in %@", seconds, output.path))
        return metrics
    }

    /// config.json, preprocessor_config.json and model.safetensors in Hugging Face layout: the
    /// encoder's own keys (CLIPVisionModel's `vision_model.*`, WhisperEncoder's unprefixed ones, as
    /// transformers' `save_pretrained` writes them).
    func writeModel(_ encoder: Module, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try copyReplacing(recipe.modelConfig, to: directory.appendingPathComponent("config.json"))
        try copyReplacing(recipe.preprocessorConfig, to: directory.appendingPathComponent("preprocessor_config.json"))
        try SafetensorsWriter.write(encoder.namedParameters().map { SafetensorsWriter.Entry($0.key, $0.tensor) }, metadata: ["format": "pt"],
                                    to: directory.appendingPathComponent("model.safetensors").path)
    }

    static func describe(_ metrics: [String: Double]) -> String {
        metrics.keys.sorted().map { String(format: "%@ %.4f", $0, metrics[$0]!) }.joined(separator: ", ")
    }

    static func json(_ values: [String: Double]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: values, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    func modelCard(task: PretrainTask, metrics: [String: Double], seconds: Double) -> String {
        let recipeName = URL(fileURLWithPath: recipe.source).lastPathComponent
        var card = ["# \(recipe.name)", ""]
        card += task.cardDescription.flatMap { [$0, ""] }
        card += ["## Data", "",
                 "The Loom demo world (`loom make-demo-data`): \(task.trainCount) training samples from `\(URL(fileURLWithPath: recipe.train).lastPathComponent)`; the held-out numbers below are on samples never trained on.", "",
                 "## Training", "",
                 "Recipe `recipes/pretrain/\(recipeName)`: \(recipe.steps) steps of batch \(recipe.batchSize), AdamW (lr \(recipe.learningRate), weight decay \(recipe.weightDecay)), cosine schedule with \(Int(recipe.warmupRatio * 100))% warm-up, gradient clipping at \(recipe.maxGradNorm), seed \(recipe.seed); \(String(format: "%.0f", seconds)) s on this machine. Loss curve: `loss.png`; per-step metrics: `metrics.jsonl`.", "",
                 "## Measured quality (held-out)", "", "| metric | value |", "|---|---|"]
        card += metrics.keys.sorted().map { String(format: "| %@ | %.4f |", $0, metrics[$0]!) }
        card += ["", "## Regenerate", "", "```", "bash tools/pretrain-demo-world.sh   # all three models, or:",
                 "loom make-demo-data --output data/demo-world --splits pretrain",
                 "loom pretrain recipes/pretrain/\(recipeName) --output <this folder>", "```", "",
                 "Loads in Loom as a modality encoder, and in transformers (`\(recipe.task == .visionAttributes ? "CLIPVisionModel" : "WhisperEncoder").from_pretrained(folder)`).", ""]
        return card.joined(separator: "\n")
    }
}

/// Copies `source` to `destination`, replacing a file already there.
private func copyReplacing(_ source: String, to destination: URL) throws {
    if FileManager.default.fileExists(atPath: destination.path) { try FileManager.default.removeItem(at: destination) }
    try FileManager.default.copyItem(at: URL(fileURLWithPath: source), to: destination)
}
