import Foundation
import LoomData
import Yams

/// A recipe that trains a frozen-to-be foundation model from scratch (`loom pretrain RECIPE`): the
/// vision tower or the audio encoder of the demo world, each with a supervised objective whose heads
/// are thrown away afterwards. The language model is pretrained by an ordinary `loom train` recipe
/// with `language_model_init: random`. Relative paths are resolved against the recipe's folder.
public struct PretrainRecipe: Decodable {
    public enum Task: String, Decodable, CaseIterable {
        /// CLIP vision tower: per patch the shape, colour and size of the object there (or none) and
        /// the patch's row and column; from the CLS token the object count.
        case visionAttributes = "vision_attributes"
        /// Whisper encoder: the spoken words, position by position, from the mean of the frames.
        case speechWords = "speech_words"
    }

    public var task: Task
    /// config.json of the model to build (copied into the output folder).
    public var modelConfig: String
    /// preprocessor_config.json (copied into the output folder; decides the model's inputs).
    public var preprocessorConfig: String
    /// Training and held-out files (the demo world's pretrain/vision.json or pretrain/speech.json).
    public var train: String
    public var eval: String?
    /// Folder media paths are relative to (default: the folder of each data file).
    public var mediaRoot: String?
    /// Samples of `train` held out for evaluation when `eval` is not given.
    public var evalSamples: Int
    public var steps: Int
    public var batchSize: Int
    public var learningRate: Double
    public var warmupRatio: Double
    public var weightDecay: Double
    public var maxGradNorm: Double
    public var evalEvery: Int
    public var logEvery: Int
    public var seed: UInt64
    /// Title of the model card written next to the weights.
    public var name: String
    public internal(set) var source: String = ""

    /// A media path of a sample in `file`, made absolute; it may not leave the media folder (see
    /// `MediaPath`).
    func mediaPath(_ path: String, in file: String) throws -> String {
        let root = mediaRoot.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: file).deletingLastPathComponent()
        return try MediaPath.resolve(path, root: root, allowOutside: false, sample: "\(file): \(path)")
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case task, modelConfig = "model_config", preprocessorConfig = "preprocessor_config", train, eval
        case mediaRoot = "media_root", evalSamples = "eval_samples", steps, batchSize = "batch_size", learningRate = "learning_rate"
        case warmupRatio = "warmup_ratio", weightDecay = "weight_decay", maxGradNorm = "max_grad_norm"
        case evalEvery = "eval_every", logEvery = "log_every", seed, name
    }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let taskName = try c.decode(String.self, forKey: .task)
        guard let task = Task(rawValue: taskName) else {
            throw RecipeError("task \"\(taskName)\" is not a pretraining task (known: \(Task.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.task = task
        modelConfig = try c.decode(String.self, forKey: .modelConfig)
        preprocessorConfig = try c.decode(String.self, forKey: .preprocessorConfig)
        train = try c.decode(String.self, forKey: .train)
        eval = try c.decodeIfPresent(String.self, forKey: .eval)
        mediaRoot = try c.decodeIfPresent(String.self, forKey: .mediaRoot)
        evalSamples = try c.decodeIfPresent(Int.self, forKey: .evalSamples) ?? 300
        steps = try c.decode(Int.self, forKey: .steps)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 32
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? 1e-3
        warmupRatio = try c.decodeIfPresent(Double.self, forKey: .warmupRatio) ?? 0.05
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0.01
        maxGradNorm = try c.decodeIfPresent(Double.self, forKey: .maxGradNorm) ?? 1.0
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery) ?? 0
        logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? 20
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? task.rawValue
        guard steps > 0, batchSize > 0 else { throw RecipeError("steps and batch_size must be positive") }
        guard evalSamples >= 0 else { throw RecipeError("eval_samples must be ≥ 0") }
    }

    /// Reads a pretraining recipe; `overrides` are `key=value` pairs as for `loom train --set`.
    public static func load(_ path: String, overrides: [String] = []) throws -> PretrainRecipe {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RecipeError("cannot read recipe \(path): \(error.localizedDescription)")
        }
        do {
            var node = try Yams.compose(yaml: text) ?? Node.mapping([:])
            for override in overrides { node = try Recipe.apply(override, to: node) }
            var recipe = try YAMLDecoder().decode(PretrainRecipe.self, from: try Yams.serialize(node: node))
            recipe.source = URL(fileURLWithPath: path).standardizedFileURL.path
            let base = URL(fileURLWithPath: path).deletingLastPathComponent()
            func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).standardizedFileURL.path }
            recipe.modelConfig = resolve(recipe.modelConfig)
            recipe.preprocessorConfig = resolve(recipe.preprocessorConfig)
            recipe.train = resolve(recipe.train)
            recipe.eval = recipe.eval.map(resolve)
            recipe.mediaRoot = recipe.mediaRoot.map(resolve)
            return recipe
        } catch let error as RecipeError {
            throw RecipeError("\(path): \(error.description)")
        } catch let error as DecodingError {
            throw RecipeError("\(path): \(Recipe.describe(error))")
        }
    }
}
