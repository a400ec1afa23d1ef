import Foundation
import LoomAdapters
import LoomCheckpoint
import LoomModels
import LoomNN
import LoomTensor

/// What a finished stage leaves in `RUN_DIR/<stage>/final/`: its trained weights, a summary that
/// proves the frozen weights did not move, and the loss curve.
enum StageResult {
    struct Summary: Encodable {
        var stage: String
        var steps: Int
        var finalLoss: Double?
        var finalEvalLoss: Double?
        var trainableParameters: Int
        var frozenParameters: Int
        var frozenChecksumBefore: String
        var frozenChecksumAfter: String
        var frozenUnchanged: Bool
        var skippedSteps: Int

        enum CodingKeys: String, CodingKey {
            case stage, steps, finalLoss = "final_loss", finalEvalLoss = "final_eval_loss"
            case trainableParameters = "trainable_parameters", frozenParameters = "frozen_parameters"
            case frozenChecksumBefore = "frozen_checksum_before", frozenChecksumAfter = "frozen_checksum_after"
            case frozenUnchanged = "frozen_unchanged", skippedSteps = "skipped_steps"
        }
    }

    static func write(trainer: StageTrainer, model: MultimodalLM, summary: TrainableSet.Summary,
                      frozenBefore: FrozenChecksums, frozenAfter: FrozenChecksums, loraConfig: LoRAConfig?,
                      languageModelSource: String, tokenizerSource: String, to directory: URL) throws {
        let fm = FileManager.default
        let temporary = directory.deletingLastPathComponent().appendingPathComponent(".final.partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temporary)
        do {
            try writeContents(trainer: trainer, model: model, summary: summary, frozenBefore: frozenBefore, frozenAfter: frozenAfter,
                              loraConfig: loraConfig, languageModelSource: languageModelSource, tokenizerSource: tokenizerSource,
                              to: temporary)
        } catch {
            // A full disk leaves the stage's checkpoints as they were and frees what this folder took.
            try? fm.removeItem(at: temporary)
            throw RecipeError("cannot write the stage's results to \(directory.path): \(error); its checkpoints are intact: "
                              + "resume with --resume once there is room")
        }
        if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
        try fm.moveItem(at: temporary, to: directory)
    }

    private static func writeContents(trainer: StageTrainer, model: MultimodalLM, summary: TrainableSet.Summary,
                                      frozenBefore: FrozenChecksums, frozenAfter: FrozenChecksums, loraConfig: LoRAConfig?,
                                      languageModelSource: String, tokenizerSource: String, to temporary: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        let trainable = model.trainableParameters
        try SafetensorsWriter.write(trainable.map { SafetensorsWriter.Entry($0.key, $0.tensor) },
                                    to: temporary.appendingPathComponent(Checkpoint.weightsFile).path)
        // Each modality's connector on its own, with keys relative to the connector.
        for binding in model.modalities where binding.connector.parameters.contains(where: \.requiresGradient) {
            try SafetensorsWriter.write(binding.connector.namedParameters().map { SafetensorsWriter.Entry($0.key, $0.tensor) },
                                        to: temporary.appendingPathComponent("connector_\(binding.name).safetensors").path)
        }
        // LoRA as a PEFT adapter (keys relative to the causal LM, as peft saves them).
        if let loraConfig, !LoRA.adaptedLayers(of: model.languageModel).isEmpty {
            try LoRA.saveAdapter(of: model.languageModel, config: loraConfig, to: temporary.appendingPathComponent("adapter").path)
        }
        // A trained language model (full fine-tuning) in Hugging Face layout, with its tokenizer.
        let lmTrained = model.languageModel.namedParameters().contains { $0.tensor.requiresGradient && !$0.key.contains(".lora_") }
        if lmTrained {
            try HuggingFaceExport.writeLanguageModel(model.languageModel, configFrom: languageModelSource,
                                                     tokenizerFrom: tokenizerSource, to: temporary.appendingPathComponent("language_model"))
        }
        let result = Summary(stage: trainer.stage.name, steps: trainer.state.step, finalLoss: trainer.state.metrics.last?.loss,
                             finalEvalLoss: trainer.state.evaluations.last?.loss, trainableParameters: summary.trainable,
                             frozenParameters: summary.frozen, frozenChecksumBefore: frozenBefore.combined,
                             frozenChecksumAfter: frozenAfter.combined, frozenUnchanged: frozenBefore == frozenAfter,
                             skippedSteps: trainer.state.skippedSteps)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(result).write(to: temporary.appendingPathComponent("summary.json"))
        try LossPlot.write(train: trainer.state.metrics.map { (Double($0.step), $0.loss) },
                           eval: trainer.state.evaluations.map { (Double($0.step), $0.loss) },
                           title: "\(trainer.stage.name): loss", to: temporary.appendingPathComponent("loss.png").path)
    }
}
