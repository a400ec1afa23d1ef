import Foundation
import LoomAdapters
import LoomCheckpoint
import LoomData
import LoomModels
import LoomNN
import LoomTensor

/// Runs one stage: micro-batches → loss (summed, divided by the supervised tokens of the whole
/// accumulated step, as transformers' num_items_in_batch) → backward → gradients summed over ranks
/// (`GradientAllReduce`, or sample by sample in exact arithmetic with `reproducible_gradients`:
/// `ExactGradients`) → clip → AdamW → schedule; checkpoints that resume bit-identically;
/// metrics.jsonl; NaN/Inf steps skipped.
public final class StageTrainer {
    public let stage: StageRecipe
    public let model: MultimodalLM
    public let loader: DataLoader
    public let evalLoader: DataLoader?
    public let directory: URL
    public let recipeText: String
    public let optimizer: AdamW
    public private(set) var scheduler: LearningRateScheduler
    public let totalSteps: Int
    public private(set) var state = TrainingState()
    /// Consecutive non-finite losses that stop the run.
    public var maxConsecutiveNonFinite = 3
    /// Called after each optimizer step (tests use it to stop a run midway).
    public var afterStep: ((Int) throws -> Void)?
    /// The data-parallel ranks this stage runs on (the loader must be sharded to match); only rank 0
    /// writes checkpoints, metrics and progress.
    public let communicator: Communicator
    private var gradients: GradientAllReduce
    private var exactGradients: ExactGradients

    public init(stage: StageRecipe, model: MultimodalLM, loader: DataLoader, evalLoader: DataLoader?,
                directory: URL, recipeText: String, communicator: Communicator = SingleProcess()) throws {
        guard loader.options.shardCount == communicator.size, loader.options.shardRank == communicator.rank else {
            throw RecipeError("stage \(stage.name): the data loader is sharded \(loader.options.shardRank) of \(loader.options.shardCount), the run has rank \(communicator.rank) of \(communicator.size)")
        }
        self.communicator = communicator
        gradients = GradientAllReduce(communicator: communicator)
        exactGradients = ExactGradients(communicator: communicator)
        self.stage = stage
        self.model = model
        self.loader = loader
        self.evalLoader = evalLoader
        self.directory = directory
        self.recipeText = recipeText
        let trainable = model.trainableParameters
        guard !trainable.isEmpty else { throw RecipeError("stage \(stage.name): no parameter is trainable") }
        optimizer = AdamW(StageTrainer.groups(trainable, stage: stage), beta1: stage.adamBetas[0], beta2: stage.adamBetas[1],
                          epsilon: stage.adamEpsilon)
        let perEpoch = max(1, (loader.batchesPerEpoch + stage.gradientAccumulation - 1) / stage.gradientAccumulation)
        totalSteps = stage.steps ?? perEpoch * (stage.epochs ?? 1)
        let warmup = LearningRateSchedule.warmupSteps(totalSteps: totalSteps, warmupSteps: stage.warmupSteps ?? 0,
                                                      warmupRatio: stage.warmupRatio)
        scheduler = LearningRateScheduler(optimizer: optimizer,
                                          schedule: LearningRateSchedule(kind: stage.schedule, totalSteps: totalSteps, warmupSteps: warmup))
    }

    /// Parameter groups: per-pattern learning rates (first match wins), each split into decay and
    /// no-decay (biases and norms) as LLaVA's trainer does.
    static func groups(_ trainable: [(key: String, tensor: Tensor)], stage: StageRecipe) -> [ParameterGroup] {
        var buckets: [(lr: Double, params: [(name: String, parameter: Tensor)])] = stage.learningRateGroups.map { ($0.learningRate, []) }
        buckets.append((stage.learningRate, []))
        for (key, tensor) in trainable {
            let index = stage.learningRateGroups.firstIndex { TrainableSet.glob($0.pattern, key) } ?? buckets.count - 1
            buckets[index].params.append((key, tensor))
        }
        return buckets.filter { !$0.params.isEmpty }.flatMap { bucket in
            ParameterGroup.splitByWeightDecay(bucket.params, learningRate: bucket.lr, weightDecay: stage.weightDecay)
        }
    }

    /// Restores the newest complete checkpoint; returns its step, or nil when there is none.
    @discardableResult
    public func resume() throws -> Int? {
        // Folders a killed process was still writing are never read; rank 0 clears them away.
        if communicator.isPrimary { Checkpoint.removePartialFolders(in: directory) }
        // The newest checkpoint whose files match their checksums; a corrupted one is passed over.
        var chosen: (step: Int, url: URL)?
        for candidate in try Checkpoint.completeCheckpoints(in: directory).reversed() {
            if let problem = Checkpoint.verify(candidate.url) {
                FileHandle.standardError.write(Data("warning: not resuming from \(candidate.url.path): \(problem); trying an older checkpoint\n".utf8))
                continue
            }
            chosen = candidate
            break
        }
        guard let newest = chosen else { return nil }
        let weights = try SafetensorsFile(path: newest.url.appendingPathComponent(Checkpoint.weightsFile).path)
        let parameters = Dictionary(model.trainableParameters.map { ($0.key, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let stored = Set(weights.names)
        guard stored == Set(parameters.keys) else {
            throw RecipeError("checkpoint \(newest.url.path) holds different trainable weights than stage \(stage.name) trains (missing: \(Set(parameters.keys).subtracting(stored).sorted().prefix(5)), unexpected: \(stored.subtracting(parameters.keys).sorted().prefix(5)))")
        }
        for (key, target) in parameters {
            let value = try weights.tensor(key)
            guard value.shape == target.shape else { throw RecipeError("checkpoint \(newest.url.path): \(key) is \(value.shape), expected \(target.shape)") }
            value.withUnsafeBufferPointer { src in target.withUnsafeMutableBufferPointer { dst in _ = dst.update(from: src) } }
        }
        let optimizerFile = try SafetensorsFile(path: newest.url.appendingPathComponent(Checkpoint.optimizerFile).path)
        try optimizer.importState(Dictionary(uniqueKeysWithValues: try optimizerFile.names.map { ($0, try optimizerFile.tensor($0)) }))
        state = try Checkpoint.readState(newest.url)
        for (key, linear) in LoRA.adaptedLayers(of: model) {
            if let generator = state.generators[key] { linear.loraDropoutGenerator = generator }
        }
        scheduler = LearningRateScheduler(optimizer: optimizer, schedule: scheduler.schedule, step: state.step)
        // Lines logged after the checkpoint belong to the lost work: the log restarts from its state.
        guard communicator.isPrimary else { return state.step }
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        try? FileManager.default.removeItem(at: metricsURL)
        for metrics in state.metrics {
            try appendLine(metrics, to: metricsURL)
            for evaluation in state.evaluations where evaluation.step == metrics.step { try appendLine(evaluation, to: metricsURL) }
        }
        return state.step
    }

    /// Shards each piece of a batch is split into (`sample_parallel`): one per core, or 1 (whole pieces,
    /// each op split across the cores) when the option is off, with one core, with
    /// `reproducible_gradients`, or while a module draws random numbers from a generator of its own
    /// that shards running at once would share (`Module.isStochastic`; LoRA dropout gives each shard
    /// its own stream instead).
    public var shardsPerPiece: Int {
        stage.sampleParallel && !stage.reproducibleGradients && !model.containsStochasticModules ? Threads.count : 1
    }

    /// For the log: whether `sample_parallel` applies, or why not; nil when it is off by the recipe
    /// (or `reproducible_gradients`) or there is one core.
    public var sampleParallelSummary: String? {
        guard stage.sampleParallel && !stage.reproducibleGradients && Threads.count > 1 else { return nil }
        return shardsPerPiece > 1
            ? "each batch split by samples across \(shardsPerPiece) cores (sample_parallel)"
            : "sample_parallel is off: a module draws random numbers from a generator of its own (Module.isStochastic); each op is split across the \(Threads.count) cores instead"
    }

    /// Trains to the end of the stage.
    public func run() throws {
        let primary = communicator.isPrimary
        if primary { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        model.setTraining(true)
        defer { model.setTraining(false) }
        let progress = ProgressReporter(label: stage.name, total: totalSteps, every: stage.logEvery)
        var stream = loader.batches(from: state.position)
        var consecutiveNonFinite = 0
        let shardsPerPiece = self.shardsPerPiece
        let metricsURL = directory.appendingPathComponent("metrics.jsonl")
        while state.step < totalSteps {
            let started = Date()
            // Gather this step's micro-batches (an accumulation window may cross an epoch boundary).
            // A slot is empty when this rank has nothing of that batch (data-parallel ranks keep in
            // step by taking one slot per batch index).
            var micro: [Batch?] = []
            var emptyEpochs = 0
            while micro.count < stage.gradientAccumulation {
                if let slot = try stream.nextSlot() {
                    if case .batch(let batch) = slot { micro.append(batch) } else { micro.append(nil) }
                } else {
                    emptyEpochs = micro.isEmpty ? emptyEpochs + 1 : 0
                    guard emptyEpochs < 2 else { throw RecipeError("stage \(stage.name): the training data yield no usable batch") }
                    if primary, let summary = loader.skipLog.summary { progress.message("epoch \(stream.epoch) of \(stage.name): \(summary)") }
                    stream = loader.batches(from: DataPosition(epoch: stream.epoch + 1))
                }
            }
            state.position = DataPosition(epoch: stream.epoch, batch: stream.nextIndex)
            // Supervised tokens of the whole global step: every rank divides its summed loss by them,
            // so the ranks' gradients add up to the gradient of the global batch.
            let local = micro.compactMap { $0 }
            let counts = try communicator.allReduceSum([Double(local.reduce(0) { $0 + $1.supervisedCount }),
                                                        Double(local.reduce(0) { $0 + $1.attentionMask.filter { $0 }.count })])
            let tokens = Int(counts[0])
            optimizer.zeroGradients()
            var lossSum = 0.0
            // Back-propagates the batch's summed loss divided by the step's supervised tokens; returns the sum.
            func accumulate(_ batch: Batch) throws -> Double {
                let media = batch.modalityInputs
                let loss = try model.loss(inputIds: batch.inputIds, labels: batch.labels, media: media,
                                          attentionMask: batch.attentionMask, reduction: .sum)
                (loss * (1 / Float(max(tokens, 1)))).backward()
                return Double(loss.item)
            }
            var gradientsFinite = true
            let reduced: (values: Int, bytes: Int)
            if stage.reproducibleGradients {
                // OpenBLAS's threaded sgemm does not give its one-thread bits for every shape (measured:
                // 64×48×192 on the Haswell kernel), so the samples' GEMMs run on one thread and a sample's
                // bits do not depend on the thread count. Loom's own kernels compute each element in the
                // same order whatever their worker count.
                try BLAS.withSingleThreadedGEMM {
                    for batch in local {
                        for b in 0..<batch.batchSize {
                            let sample = batch.sample(b)
                            guard sample.supervisedCount > 0 else { continue }
                            lossSum += try accumulate(sample)
                            exactGradients.collect(optimizer.parameters)
                        }
                    }
                }
                gradientsFinite = try exactGradients.reduce(optimizer.parameters)
                reduced = (exactGradients.lastElementCount, exactGradients.lastByteCount)
            } else {
                for batch in local {
                    // length_group_size: pieces padded less, each divided by the step's tokens as the whole.
                    let pieces = stage.lengthGroupSize.map { batch.lengthGroups(size: $0) } ?? [batch]
                    for piece in pieces where piece.supervisedCount > 0 {
                        // sample_parallel: the piece's samples in one shard per core, run at once.
                        let shards = piece.shards(shardsPerPiece).filter { $0.supervisedCount > 0 }
                        lossSum += try SampleParallel.map(shards.count) { try accumulate(shards[$0]) }.reduce(0, +)
                    }
                }
                try gradients.reduce(optimizer.parameters)
                reduced = (gradients.lastElementCount, gradients.lastElementCount * MemoryLayout<Float>.size)
            }
            if primary && communicator.size > 1 && state.step == 0 {
                let form = stage.reproducibleGradients ? " as exact sums" : ""
                progress.message("\(stage.name): all-reduce of \(reduced.values) gradient values\(form) (\(String(format: "%.2f", Double(reduced.bytes) / 1e6)) MB) per step over \(communicator.size) ranks")
            }
            let loss = try communicator.allReduceSum([lossSum])[0] / Double(max(tokens, 1))
            let epoch = stream.epoch
            guard loss.isFinite && gradientsFinite else {
                optimizer.zeroGradients()
                state.skippedSteps += 1
                consecutiveNonFinite += 1
                if primary { progress.message("warning: step \(state.step + 1) of \(stage.name) has a non-finite \(loss.isFinite ? "gradient" : "loss (\(loss))"); skipped") }
                if consecutiveNonFinite >= maxConsecutiveNonFinite {
                    throw RecipeError("stage \(stage.name): \(consecutiveNonFinite) non-finite steps in a row; stopping (the last good checkpoint is intact in \(directory.path))")
                }
                continue
            }
            consecutiveNonFinite = 0
            let parameters = optimizer.parameters
            let norm = stage.maxGradNorm > 0 ? clipGradientNorm(parameters, maxNorm: stage.maxGradNorm) : 0
            let learningRate = stage.learningRate * scheduler.schedule.multiplier(step: state.step)
            optimizer.step()
            scheduler.step()
            state.step += 1
            let seconds = Date().timeIntervalSince(started)
            let metrics = StepMetrics(step: state.step, epoch: epoch, loss: loss, learningRate: learningRate,
                                      gradientNorm: norm, tokens: Int(counts[1]), seconds: seconds)
            state.metrics.append(metrics)
            if primary {
                try appendLine(metrics, to: metricsURL)
                progress.update(step: state.step, loss: loss, learningRate: learningRate, tokensPerSecond: Double(metrics.tokens) / max(seconds, 1e-9))
            }
            if primary && stage.evalEvery > 0 && state.step % stage.evalEvery == 0, let evalLoader {
                let evalLoss = try evaluate(evalLoader)
                state.evaluations.append(EvalMetrics(step: state.step, loss: evalLoss))
                try appendLine(state.evaluations.last!, to: metricsURL)
            }
            if stage.saveEvery > 0 && state.step % stage.saveEvery == 0 && state.step < totalSteps { try saveCheckpoint() }
            try afterStep?(state.step)
        }
        if primary, let evalLoader, state.evaluations.last?.step != state.step {
            state.evaluations.append(EvalMetrics(step: state.step, loss: try evaluate(evalLoader)))
            try appendLine(state.evaluations.last!, to: metricsURL)
        }
        try saveCheckpoint()
        if primary, let summary = loader.skipLog.summary { progress.message("\(stage.name): \(summary)") }
    }

    /// Mean next-token loss over `loader`'s supervised tokens (see `evaluationLoss`).
    public func evaluate(_ loader: DataLoader) throws -> Double { try evaluationLoss(model, loader) }

    /// Writes a checkpoint (rank 0; the other ranks wait until it is complete).
    public func saveCheckpoint() throws {
        defer { try? communicator.barrier() }
        guard communicator.isPrimary else { return }
        state.generators = Dictionary(LoRA.adaptedLayers(of: model).map { ($0.key, $0.linear.loraDropoutGenerator) },
                                      uniquingKeysWith: { a, _ in a })
        try Checkpoint.write(to: directory, step: state.step, weights: model.trainableParameters.map { ($0.key, $0.tensor) },
                             optimizer: optimizer.exportState(), state: state, recipeText: recipeText, keepLast: stage.keepLast)
    }

    func appendLine<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        if let handle = try? FileHandle(forWritingTo: url) {
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
        } else {
            try data.write(to: url)
        }
    }
}
