import Foundation
import LoomData

/// One stage: what trains, on what data, with which optimizer settings. Defaults follow LLaVA-1.5's
/// scripts where they have one (cosine schedule, no weight decay, clipping at 1.0).
public struct StageRecipe: Decodable {
    public var name: String
    /// Conversation template: plain (alignment), vicuna_v1 or chatml.
    public var template: ChatTemplate
    /// The template's system prompt instead of its default (vicuna_v1: "A chat between a curious
    /// user…"; chatml: "You are a helpful assistant."). The plain template has none.
    public var systemPrompt: String?
    /// Overrides of the recipe's data section.
    public var data: DataRecipe?
    /// Name patterns of the parameters that train (everything else is frozen), e.g.
    /// ["modalities.*.connector.*"] for stage 1, plus "language_model.*" or "*.lora_*" for stage 2.
    public var trainable: [String]
    /// LoRA on the language model (stage 2 variant); its weights train.
    public var lora: LoRARecipe?
    public var learningRate: Double
    /// Per-pattern learning rates (LLaVA's mm_projector_lr): the first matching group wins.
    public var learningRateGroups: [LearningRateGroupRecipe]
    /// constant, constant_with_warmup, linear or cosine.
    public var schedule: LearningRateScheduleKind
    public var warmupRatio: Double
    /// Overrides warmup_ratio when set.
    public var warmupSteps: Int?
    /// Passes over the data (default 1) — or a fixed number of optimizer steps.
    public var epochs: Int?
    public var steps: Int?
    /// Samples per micro-batch (per process).
    public var batchSize: Int
    /// Micro-batches per optimizer step.
    public var gradientAccumulation: Int
    /// Clip the global gradient norm to this (0: no clipping).
    public var maxGradNorm: Double
    /// Run the samples one by one and sum their gradients exactly (`ExactGradients`): the weights then
    /// do not depend on how the global batch is split over ranks, micro-batches or threads. Slower.
    public var reproducibleGradients: Bool
    /// Recompute each decoder layer in backward instead of keeping its activations (less memory,
    /// about one more forward pass of the language model per step; the same gradients).
    public var gradientCheckpointing: Bool
    /// Keep the stage's frozen weight matrices (every frozen `Linear` and `Embedding`) in bfloat16,
    /// widened to Float32 on use: half their memory; products differ by the weights' rounding only.
    public var frozenWeightsBF16: Bool
    public var weightDecay: Double
    public var adamBetas: [Double]
    public var adamEpsilon: Double
    /// Evaluate every N optimizer steps (0: only at the end, when eval data exist).
    public var evalEvery: Int
    /// Checkpoint every N optimizer steps (0: only at the end).
    public var saveEvery: Int
    /// Checkpoints kept on disk.
    public var keepLast: Int
    public var seed: UInt64
    /// Start from these trainable weights (a safetensors file or a run's stage folder) instead of
    /// the previous stage's result.
    public var initFrom: String?
    /// Logging interval in optimizer steps.
    public var logEvery: Int
    /// Run each micro-batch in pieces of at most this many samples, samples of similar length
    /// together, so each piece is padded only to its own longest sample (nil: whole). The step's
    /// gradient is the same: every piece's summed loss is divided by the step's supervised tokens.
    public var lengthGroupSize: Int?
    /// Memory for the frozen encoders' features by media file (MB; 0: none): a file seen again is
    /// neither decoded nor encoded again. Used while an encoder is frozen and the stage's gradients
    /// are not `reproducible_gradients`; assumes a file's model input is the same on every read (no
    /// random augmentation in the modality's processor).
    public var featureCacheMB: Int
    /// Split each micro-batch (or length-group piece) by samples across the cores, one shard per core
    /// with one-thread kernels, instead of splitting every op across them (`SampleParallel`). The
    /// gradient is the same sum; it costs one more buffer of the trainable parameters' size. LoRA
    /// dropout draws each shard's masks from a stream of its own. Skipped with
    /// `reproducible_gradients` and for modules that report `isStochastic`.
    public var sampleParallel: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, template, systemPrompt = "system_prompt", data, trainable, lora, learningRate = "learning_rate", learningRateGroups = "learning_rate_groups"
        case schedule, warmupRatio = "warmup_ratio", warmupSteps = "warmup_steps", epochs, steps
        case batchSize = "batch_size", gradientAccumulation = "gradient_accumulation", lengthGroupSize = "length_group_size", maxGradNorm = "max_grad_norm"
        case reproducibleGradients = "reproducible_gradients", gradientCheckpointing = "gradient_checkpointing"
        case frozenWeightsBF16 = "frozen_weights_bf16"
        case weightDecay = "weight_decay", adamBetas = "adam_betas", adamEpsilon = "adam_epsilon"
        case evalEvery = "eval_every", saveEvery = "save_every", keepLast = "keep_last", seed, initFrom = "init_from"
        case logEvery = "log_every", featureCacheMB = "feature_cache_mb", sampleParallel = "sample_parallel"
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        template = try c.decodeIfPresent(ChatTemplate.self, forKey: .template) ?? .vicunaV1
        systemPrompt = try c.decodeIfPresent(String.self, forKey: .systemPrompt)
        data = try c.decodeIfPresent(DataRecipe.self, forKey: .data)
        trainable = try c.decodeIfPresent([String].self, forKey: .trainable) ?? []
        lora = try c.decodeIfPresent(LoRARecipe.self, forKey: .lora)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        learningRateGroups = try c.decodeIfPresent([LearningRateGroupRecipe].self, forKey: .learningRateGroups) ?? []
        schedule = try c.decodeIfPresent(LearningRateScheduleKind.self, forKey: .schedule) ?? .cosine
        warmupRatio = try c.decodeIfPresent(Double.self, forKey: .warmupRatio) ?? 0
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 1
        gradientAccumulation = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulation) ?? 1
        lengthGroupSize = try c.decodeIfPresent(Int.self, forKey: .lengthGroupSize)
        maxGradNorm = try c.decodeIfPresent(Double.self, forKey: .maxGradNorm) ?? 1
        reproducibleGradients = try c.decodeIfPresent(Bool.self, forKey: .reproducibleGradients) ?? false
        gradientCheckpointing = try c.decodeIfPresent(Bool.self, forKey: .gradientCheckpointing) ?? false
        frozenWeightsBF16 = try c.decodeIfPresent(Bool.self, forKey: .frozenWeightsBF16) ?? false
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0
        adamBetas = try c.decodeIfPresent([Double].self, forKey: .adamBetas) ?? [0.9, 0.999]
        adamEpsilon = try c.decodeIfPresent(Double.self, forKey: .adamEpsilon) ?? 1e-8
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery) ?? 0
        saveEvery = try c.decodeIfPresent(Int.self, forKey: .saveEvery) ?? 0
        keepLast = try c.decodeIfPresent(Int.self, forKey: .keepLast) ?? 2
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        initFrom = try c.decodeIfPresent(String.self, forKey: .initFrom)
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? 1
        featureCacheMB = try c.decodeIfPresent(Int.self, forKey: .featureCacheMB) ?? 1024
        sampleParallel = try c.decodeIfPresent(Bool.self, forKey: .sampleParallel) ?? true
        try validate()
    }

    func validate() throws {
        let stage = "stages[\(name)]"
        guard !trainable.isEmpty || lora != nil else { throw RecipeError("\(stage): nothing trains (set trainable patterns or lora)") }
        guard learningRate > 0 else { throw RecipeError("\(stage).learning_rate must be positive, got \(learningRate)") }
        guard batchSize > 0 else { throw RecipeError("\(stage).batch_size must be positive, got \(batchSize)") }
        guard gradientAccumulation > 0 else { throw RecipeError("\(stage).gradient_accumulation must be positive") }
        guard (lengthGroupSize ?? 1) > 0 else { throw RecipeError("\(stage).length_group_size must be positive, got \(lengthGroupSize ?? 0)") }
        guard featureCacheMB >= 0 else { throw RecipeError("\(stage).feature_cache_mb must be 0 or more, got \(featureCacheMB)") }
        guard (0...1).contains(warmupRatio) else { throw RecipeError("\(stage).warmup_ratio must be in [0, 1], got \(warmupRatio)") }
        guard epochs == nil || steps == nil else { throw RecipeError("\(stage): give epochs or steps, not both") }
        if let epochs, epochs <= 0 { throw RecipeError("\(stage).epochs must be positive") }
        if let steps, steps <= 0 { throw RecipeError("\(stage).steps must be positive") }
        guard adamBetas.count == 2, adamBetas.allSatisfy({ (0..<1).contains($0) }) else {
            throw RecipeError("\(stage).adam_betas must be two numbers in [0, 1), got \(adamBetas)")
        }
        guard keepLast >= 1 else { throw RecipeError("\(stage).keep_last must be at least 1") }
    }
}

public struct LearningRateGroupRecipe: Decodable {
    public var pattern: String
    public var learningRate: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case pattern, learningRate = "learning_rate" }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pattern = try c.decode(String.self, forKey: .pattern)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
    }
}

/// LoRA on the language model's linear layers (PEFT's defaults for LLaMA).
public struct LoRARecipe: Decodable {
    public var rank: Int
    public var alpha: Double
    public var dropout: Double
    public var targetModules: [String]

    enum CodingKeys: String, CodingKey, CaseIterable { case rank = "r", alpha = "lora_alpha", dropout = "lora_dropout", targetModules = "target_modules" }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rank = try c.decodeIfPresent(Int.self, forKey: .rank) ?? 8
        alpha = try c.decodeIfPresent(Double.self, forKey: .alpha) ?? 16
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0.05
        targetModules = try c.decodeIfPresent([String].self, forKey: .targetModules)
            ?? ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        guard rank > 0 else { throw RecipeError("lora.r must be positive, got \(rank)") }
    }
}
