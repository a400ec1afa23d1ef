import Foundation
import LoomAdapters
import LoomCheckpoint
import LoomData
import LoomModels
import LoomNN
import LoomTensor
import LoomTokenizer

/// A recipe being run: the model assembled from its folders, then each stage in order, each
/// starting from the previous stage's result. Layout of the run folder:
/// `RUN_DIR/<stage>/checkpoint-N/`, `RUN_DIR/<stage>/metrics.jsonl`, `RUN_DIR/<stage>/final/`.
public final class TrainingRun {
    public let recipe: Recipe
    public let directory: URL
    public let recipeText: String
    public let model: MultimodalLM
    public let tokenizer: Tokenizer
    /// Media loaders per modality (file → model input).
    public let processors: [String: DataLoader.MediaLoader]
    public var log: (String) -> Void = { print($0) }
    /// Called after each optimizer step with (stage, step); tests use it to interrupt a run.
    public var afterStep: ((String, Int) throws -> Void)?
    /// The data-parallel ranks (`mpirun -np N loom train …`; a single process otherwise). Every rank
    /// trains on its shard of each global batch; rank 0 alone logs and writes.
    public let communicator: Communicator

    public init(recipe: Recipe, directory: URL, communicator: Communicator? = nil) throws {
        BuiltinModalities.register()
        self.communicator = try communicator ?? Distributed.world()
        self.recipe = recipe
        self.directory = directory
        recipeText = (try? String(contentsOfFile: recipe.source, encoding: .utf8)) ?? ""
        let lm: LlamaForCausalLM
        switch recipe.languageModelInit {
        case .pretrained:
            lm = try LlamaForCausalLM.load(directory: recipe.languageModel)
        case .random:
            lm = try LlamaForCausalLM(try PretrainedFolder(recipe.languageModel).config(LlamaConfig.self))
            var rng = RandomGenerator(seed: recipe.stages[0].seed &+ 0x5EED)
            lm.initializeParameters(std: 0.02, generator: &rng)
        }
        let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: recipe.tokenizer ?? recipe.languageModel))
        self.tokenizer = tokenizer
        var bindings: [ModalityBinding] = []
        var processors: [String: DataLoader.MediaLoader] = [:]
        var rng = RandomGenerator(seed: recipe.stages[0].seed)
        for name in recipe.modalities.keys.sorted() {
            let spec = recipe.modalities[name]!
            let kind = try ModalityRegistry.kind(name)
            try kind.checkOptions(spec.options)
            let encoder = try kind.loadEncoder(spec.encoder, spec.options)
            let connector = try ConnectorRegistry.make(spec.connector, options: spec.connectorOptions,
                                                       inputDim: encoder.featureDimension, outputDim: lm.config.hiddenSize)
            connector.initializeParameters(std: 0.02, generator: &rng)
            (connector as? OutputScaledConnector)?.matchOutputScale(toEmbeddings: lm.model.embedTokens.weight)
            // A linear connector over word probabilities starts as the LM's embeddings of the words.
            if let vocabulary = encoder.featureVocabulary, let lookup = connector as? LinearConnector {
                try lookup.initializeAsLookup(embeddings: lm.model.embedTokens.weight,
                                          tokenIds: vocabulary.map { $0.map(tokenizer.idsInSentence(word:)) ?? [] })
            }
            bindings.append(ModalityBinding(name: name, placeholder: kind.placeholder, encoder: encoder, connector: connector))
            let process = try kind.makeProcessor(spec.encoder, spec.options)
            processors[name] = { file in try process(file) }
        }
        self.processors = processors
        model = MultimodalLM(languageModel: lm, modalities: bindings)
        model.freeze()
        if !self.communicator.isPrimary { log = { _ in } }
    }

    /// Placeholders of the model's modalities, with LLaVA's −200 for images.
    public var placeholders: [Placeholder] {
        model.modalities.enumerated().map { index, binding in
            let marker = binding.name == "image" ? -200 : binding.name == "audio" ? -201 : -210 - index
            return Placeholder(modality: binding.name, text: binding.placeholder, marker: marker)
        }
    }

    public func stageDirectory(_ stage: StageRecipe) -> URL { directory.appendingPathComponent(stage.name) }

    /// Opens a run folder written by `loom train` with its finished stages loaded (up to `upTo`);
    /// throws when no stage has finished.
    public static func openFinished(_ directory: URL, upTo stage: String? = nil) throws -> (run: TrainingRun, stage: StageRecipe) {
        let run = try TrainingRun(recipe: try Recipe.load(run: directory), directory: directory)
        run.log = { _ in }
        guard let finished = try run.loadFinishedStages(upTo: stage) else {
            throw RecipeError("\(directory.path) has no finished stage yet (train it with loom train)")
        }
        return (run, finished)
    }

    /// The model as the run left it: each finished stage's result loaded in order (LoRA adapters
    /// attached). Returns the last finished stage, or nil when none has finished.
    @discardableResult
    /// With `upTo`, stops after that stage.
    public func loadFinishedStages(upTo name: String? = nil) throws -> StageRecipe? {
        var last: StageRecipe?
        for stage in recipe.stages {
            if FileManager.default.fileExists(atPath: finalDirectory(stage).path) {
                try loadTrainableWeights(from: finalDirectory(stage))
                last = stage
            }
            if stage.name == name { break }
        }
        return last
    }

    /// Runs every stage (or only `onlyStage`), resuming from checkpoints when `resume`.
    public func train(onlyStage: String? = nil, resume: Bool = false) throws {
        if let onlyStage, !recipe.stages.contains(where: { $0.name == onlyStage }) {
            throw RecipeError("\(recipe.source): no stage named \"\(onlyStage)\" (stages: \(recipe.stages.map(\.name).joined(separator: ", ")))")
        }
        if communicator.isPrimary {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(["recipe": AnyEncodable(recipe.source), "overrides": AnyEncodable(recipe.overrides)])
                .write(to: directory.appendingPathComponent("run.json"), options: .atomic)
        }
        for (index, stage) in recipe.stages.enumerated() where onlyStage == nil || stage.name == onlyStage {
            if FileManager.default.fileExists(atPath: finalDirectory(stage).path), resume {
                log("stage \(stage.name): already finished (\(finalDirectory(stage).path))")
                try loadTrainableWeights(from: finalDirectory(stage))
                continue
            }
            try startingWeights(for: stage, index: index)
            try runStage(stage)
        }
    }

    func finalDirectory(_ stage: StageRecipe) -> URL { stageDirectory(stage).appendingPathComponent("final") }

    /// The previous stage's result (or `init_from`) loaded into the model.
    func startingWeights(for stage: StageRecipe, index: Int) throws {
        if let source = stage.initFrom {
            var url = URL(fileURLWithPath: source)
            if !source.hasSuffix(".safetensors") { url = url.appendingPathComponent("final") }
            try loadTrainableWeights(from: url)
        } else if index > 0 {
            let previous = finalDirectory(recipe.stages[index - 1])
            guard FileManager.default.fileExists(atPath: previous.path) else {
                throw RecipeError("stage \(stage.name) starts from stage \(recipe.stages[index - 1].name), which has not finished: run it first (no \(previous.path))")
            }
            try loadTrainableWeights(from: previous)
        }
    }

    /// Loads a stage result (`final/` folder or a trainable.safetensors) by Loom key.
    public func loadTrainableWeights(from location: URL) throws {
        let file = location.pathExtension == "safetensors" ? location : location.appendingPathComponent(Checkpoint.weightsFile)
        let weights = try SafetensorsFile(path: file.path)
        // A LoRA stage's result needs its adapter layers before its weights can load.
        let adapter = file.deletingLastPathComponent().appendingPathComponent("adapter")
        if weights.names.contains(where: { $0.contains(".lora_") }), LoRA.adaptedLayers(of: model.languageModel).isEmpty,
           FileManager.default.fileExists(atPath: adapter.path) {
            try LoRA.loadAdapter(from: adapter.path, into: model.languageModel)
        }
        let parameters = Dictionary(model.namedParameters().map { ($0.key, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let mapping = projectorMapping
        let stored = weights.names.map { (stored: $0, key: mapping.moduleKey(for: $0) ?? $0) }
        let unknown = stored.filter { parameters[$0.key] == nil }.map(\.stored)
        guard unknown.isEmpty else {
            throw RecipeError("\(file.path) holds weights this model does not have: \(unknown.prefix(5).joined(separator: ", "))")
        }
        for (name, key) in stored {
            let value = try weights.tensor(name), target = parameters[key]!
            guard value.shape == target.shape else { throw RecipeError("\(file.path): \(name) is \(value.shape), the model has \(target.shape)") }
            value.withUnsafeBufferPointer { src in target.withUnsafeMutableBufferPointer { dst in _ = dst.update(from: src) } }
        }
        log("loaded \(weights.names.count) weights from \(file.path)")
    }

    /// Projector files of LLaVA (`mm_projector.bin` as safetensors: `model.mm_projector.0.weight`, …)
    /// and of transformers (`multi_modal_projector.linear_1.weight`, …) load into the image connector,
    /// so a stage can start from a projector trained elsewhere (`init_from`).
    var projectorMapping: KeyMapping {
        let target = "modalities.image.connector."
        var renames: [(from: String, to: String)] = []
        for prefix in ["model.mm_projector.", "mm_projector.", "model.multi_modal_projector.", "multi_modal_projector."] {
            renames += (1...8).map { ("\(prefix)linear_\($0).", "\(target)\(2 * ($0 - 1)).") }
            renames.append((prefix, target))
        }
        return KeyMapping(renames: renames)
    }

    func runStage(_ stage: StageRecipe) throws {
        var patterns = stage.trainable
        var loraConfig: LoRAConfig?
        if let lora = stage.lora {
            let config = LoRAConfig(r: lora.rank, loraAlpha: lora.alpha, loraDropout: lora.dropout,
                                    targetModules: .names(lora.targetModules), baseModelNameOrPath: recipe.languageModel)
            if LoRA.adaptedLayers(of: model.languageModel).isEmpty {
                var rng = RandomGenerator(seed: stage.seed &+ 0x10AA)
                let layers = try LoRA.apply(to: model.languageModel, config: config, generator: &rng)
                for (index, (_, linear)) in LoRA.adaptedLayers(of: model.languageModel).enumerated() {
                    linear.loraDropoutGenerator = RandomGenerator(seed: stage.seed &+ UInt64(index) &* 7919)
                }
                log("stage \(stage.name): LoRA r=\(lora.rank) alpha=\(lora.alpha) on \(layers.count) layers")
            }
            loraConfig = config
            patterns.append("*.lora_*")
        }
        let summary = try TrainableSet(patterns).apply(to: model)
        log("stage \(stage.name): \(summary.trainable) trainable / \(summary.frozen) frozen parameters\n\(summary)")
        if stage.frozenWeightsBF16 { log("stage \(stage.name): \(model.keepFrozenWeightsInBFloat16())") }
        let frozenBefore = FrozenChecksums(model)
        attachFeatureCaches(stage)
        defer {
            for binding in model.modalities {
                if let cache = binding.featureCache { log("stage \(stage.name): \(binding.name) feature cache: \(cache.statistics)") }
                binding.featureCache = nil
            }
        }
        let data = recipe.data.merged(with: stage.data)
        let loader = try makeLoader(stage, files: data.train, data: data, what: "train")!
        let evalLoader = try data.eval.flatMap { try makeLoader(stage, files: $0, data: data, what: "eval") }
        try fillFeatureCaches(stage, from: loader)
        model.languageModel.model.gradientCheckpointing = stage.gradientCheckpointing
        defer { model.languageModel.model.gradientCheckpointing = false }
        if stage.gradientCheckpointing { log("stage \(stage.name): gradient checkpointing (each decoder layer runs again in backward)") }
        let trainer = try StageTrainer(stage: stage, model: model, loader: loader, evalLoader: evalLoader,
                                       directory: stageDirectory(stage), recipeText: recipeText, communicator: communicator)
        let ranks = communicator.size
        log("stage \(stage.name): global batch \(stage.batchSize * ranks * stage.gradientAccumulation) = batch_size \(stage.batchSize) × \(ranks) rank\(ranks == 1 ? "" : "s") × gradient_accumulation \(stage.gradientAccumulation)")
        if let summary = trainer.sampleParallelSummary { log("stage \(stage.name): \(summary)") }
        trainer.afterStep = { [weak self] step in try self?.afterStep?(stage.name, step) }
        if try trainer.resume() != nil { log("stage \(stage.name): resumed at step \(trainer.state.step)") }
        try trainer.run()
        let frozenAfter = FrozenChecksums(model)
        if communicator.isPrimary {
            try StageResult.write(trainer: trainer, model: model, summary: summary, frozenBefore: frozenBefore,
                                  frozenAfter: frozenAfter, loraConfig: loraConfig, languageModelSource: recipe.languageModel,
                                  tokenizerSource: recipe.tokenizer ?? recipe.languageModel, to: finalDirectory(stage))
        }
        try communicator.barrier()  // the next stage starts from this one's final folder on every rank
        log("stage \(stage.name): done, \(trainer.state.step) steps, final loss \(trainer.state.metrics.last.map { String(format: "%.4f", $0.loss) } ?? "-"); results in \(finalDirectory(stage).path)")
        guard frozenBefore == frozenAfter else {
            throw RecipeError("stage \(stage.name): frozen weights changed during training: \(frozenBefore.differences(frozenAfter).prefix(5))")
        }
    }

    /// The samples of `files` with media paths made absolute (against `media_root` or each file's
    /// folder, which they may not leave unless `allow_media_outside_root`). Undecodable samples are
    /// logged, or thrown when the data are strict.
    public func readConversations(_ files: [String], data: DataRecipe, skipLog: SkipLog) throws -> [Conversation] {
        var result: [Conversation] = []
        for file in files {
            let (samples, failures) = try DatasetFile.read(file, modalities: model.modalities.map(\.name))
            for failure in failures {
                if data.strict ?? false { throw failure }
                skipLog.record("unreadable sample", failure.description)
            }
            let root = URL(fileURLWithPath: data.mediaRoot ?? URL(fileURLWithPath: file).deletingLastPathComponent().path)
            let allowOutside = data.allowMediaOutsideRoot ?? false
            for var sample in samples {
                do {
                    sample.media = try sample.media.mapValues { paths in
                        try paths.map { try MediaPath.resolve($0, root: root, allowOutside: allowOutside, sample: sample.id) }
                    }
                    result.append(sample)
                } catch let error as SampleError {
                    if data.strict ?? false { throw error }
                    skipLog.record(error)
                }
            }
        }
        return result
    }

    public func makeLoader(_ stage: StageRecipe, files: [String]?, data: DataRecipe, what: String) throws -> DataLoader? {
        guard let files, !files.isEmpty else {
            if what == "train" { throw RecipeError("stage \(stage.name): no training data (data.train)") }
            return nil
        }
        let strict = data.strict ?? false
        let skipLog = SkipLog()
        let conversations = ConversationTokenizer(template: stage.template, tokenizer: tokenizer, placeholders: placeholders,
                                                  legacy: tokenizer.isLegacy, systemPrompt: stage.systemPrompt,
                                                  padTokenId: tokenizer.padTokenId)
        var tokenized: [TokenizedSample] = []
        for sample in try readConversations(files, data: data, skipLog: skipLog) {
            do {
                tokenized.append(try conversations.tokenize(sample))
            } catch let error as SampleError {
                if strict { throw error }
                skipLog.record(error)
            }
        }
        var tokensPerItem: [String: Int] = [:]
        for binding in model.modalities {
            // The shape of one processed item decides how many slots a placeholder takes.
            guard let first = tokenized.lazy.compactMap({ $0.media[binding.name]?.first }).first else { continue }
            let input = try processors[binding.name]!(first)
            tokensPerItem[binding.name] = binding.tokenCount(inputShape: input.shape)
        }
        let collator = Collator(tokensPerItem: tokensPerItem, placeholders: placeholders, maxLength: data.maxLength ?? 2048,
                                padTokenId: tokenizer.padTokenId ?? 0)
        let loader = try DataLoader(samples: tokenized, collator: collator, mediaLoaders: mediaLoaders,
                                    options: .init(batchSize: stage.batchSize, seed: stage.seed,
                                                   groupByModalityLength: data.groupByModalityLength ?? true, strict: strict,
                                                   shardRank: what == "train" ? communicator.rank : 0,
                                                   shardCount: what == "train" ? communicator.size : 1),
                                    skipLog: skipLog)
        guard loader.sampleCount > 0 else {
            throw RecipeError("stage \(stage.name): no usable \(what) sample in \(files.joined(separator: ", ")) (\(skipLog.summary ?? "none read"))")
        }
        let truncated = loader.truncatedCount == 0 ? "" : ", \(loader.truncatedCount) truncated to \(collator.maxLength) tokens"
        log("stage \(stage.name): \(loader.sampleCount) \(what) samples\(truncated)\(skipLog.summary.map { " (\($0))" } ?? "")")
        return loader
    }
}

/// Lets a dictionary hold values of different Encodable types.
struct AnyEncodable: Encodable {
    let encode: (Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encode = value.encode }
    func encode(to encoder: Encoder) throws { try encode(encoder) }
}

/// A checksum per frozen parameter (FNV-1a over its bytes), to prove frozen weights stayed frozen.
public struct FrozenChecksums: Equatable {
    public var values: [String: UInt64]

    public init(_ module: Module) {
        var values: [String: UInt64] = [:]
        for (key, tensor) in module.namedParameters() where !tensor.requiresGradient {
            values[key] = tensor.withUnsafeBufferPointer { buffer in
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                UnsafeRawBufferPointer(buffer).forEach { hash = (hash ^ UInt64($0)) &* 0x100_0000_01b3 }
                return hash
            }
        }
        self.values = values
    }

    public func differences(_ other: FrozenChecksums) -> [String] {
        values.keys.filter { values[$0] != other.values[$0] }.sorted()
    }

    /// One checksum over all of them (order-independent by sorting keys).
    public var combined: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for key in values.keys.sorted() {
            for byte in withUnsafeBytes(of: values[key]!, Array.init) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return String(hash, radix: 16)
    }
}
