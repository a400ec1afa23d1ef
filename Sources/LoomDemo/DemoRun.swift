import Foundation
import LoomData
import LoomModels
import LoomTensor
import LoomTraining
import LoomWorld

/// `loom demo`: the whole LLaVA recipe on the demo world. Generates the world's data (seeded), runs
/// stage 1 (image and audio connectors align, all else frozen) and stage 2 (instruction tuning of the
/// connectors and the language model) from recipes/demo.yaml, then scores the held-out test set:
/// image QA, spoken QA, stage-1 captions and transcripts, chance, and a control with the connector
/// outputs zeroed. Writes DIR/results.json and the loss curves.
public final class DemoRun {
    public struct Options {
        public var seed: UInt64 = 0
        public var output: URL
        public var recipe: String
        /// Held-out questions per kind of test set (image QA, spoken QA) and captions scored.
        public var testQuestions: Int = 300
        public var testCaptions: Int = 200
        /// Extra `--set` overrides for the recipe.
        public var overrides: [String] = []
        public init(output: URL, recipe: String) { self.output = output; self.recipe = recipe }
    }

    public let options: Options
    public var log: (String) -> Void = { print($0) }

    public init(options: Options) { self.options = options }

    public func run() throws -> DemoResults {
        let fm = FileManager.default
        let dataDirectory = options.output.appendingPathComponent("data")
        let runDirectory = options.output.appendingPathComponent("run")
        try fm.createDirectory(at: options.output, withIntermediateDirectories: true)

        // 1. The world's data (not counted in the training time).
        var clock = Date()
        log("demo: generating the world (seed \(options.seed)) in \(dataDirectory.path)")
        try generateWorld(into: dataDirectory)
        let secondsData = Date().timeIntervalSince(clock)

        // 2. Stage 1 then stage 2, from the recipe with this world's files and seed.
        let overrides = try worldOverrides(Recipe.load(options.recipe), world: dataDirectory.path)
            + ["stages.0.seed=\(options.seed)", "stages.1.seed=\(options.seed)"] + options.overrides
        let recipe = try Recipe.load(options.recipe, overrides: overrides)
        guard recipe.stages.count == 2 else { throw RecipeError("\(options.recipe): the demo recipe has two stages (align, instruct)") }
        if fm.fileExists(atPath: runDirectory.path) { try fm.removeItem(at: runDirectory) }
        let run = try TrainingRun(recipe: recipe, directory: runDirectory)
        run.log = log
        let (align, instruct) = (recipe.stages[0], recipe.stages[1])
        let test = dataDirectory.appendingPathComponent("test")

        clock = Date()
        try run.train(onlyStage: align.name)
        let secondsStage1 = Date().timeIntervalSince(clock)
        clock = Date()
        log("demo: scoring stage 1 (captions and transcripts of held-out data)")
        let captions = try scoreCaptions(run, file: test.appendingPathComponent("captions.json").path)
        let transcripts = try scoreTranscripts(run, file: test.appendingPathComponent("spoken_qa.json").path)
        var secondsEvaluation = Date().timeIntervalSince(clock)

        clock = Date()
        try run.train(onlyStage: instruct.name)
        let secondsStage2 = Date().timeIntervalSince(clock)

        clock = Date()
        log("demo: scoring stage 2 (held-out image and spoken questions)")
        let imageQA = try scoreAnswers(run, file: test.appendingPathComponent("image_qa.json").path)
        let spokenQA = try scoreAnswers(run, file: test.appendingPathComponent("spoken_qa.json").path)
        log("demo: the control (connector outputs zeroed)")
        run.model.zeroedModalities = Set(run.model.modalities.map(\.name))
        let controlImage = try scoreAnswers(run, file: test.appendingPathComponent("image_qa.json").path)
        let controlSpoken = try scoreAnswers(run, file: test.appendingPathComponent("spoken_qa.json").path)
        run.model.zeroedModalities = []
        secondsEvaluation += Date().timeIntervalSince(clock)

        // 3. Results.
        var curves: [String] = []
        for (index, stage) in recipe.stages.enumerated() {
            let source = runDirectory.appendingPathComponent(stage.name).appendingPathComponent("final/loss.png")
            let target = options.output.appendingPathComponent("loss_stage\(index + 1)_\(stage.name).png")
            if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
            if fm.fileExists(atPath: source.path) { try fm.copyItem(at: source, to: target); curves.append(target.lastPathComponent) }
        }
        let results = DemoResults(
            seed: options.seed, imageQAAccuracy: imageQA.accuracy, spokenQAAccuracy: spokenQA.accuracy,
            captionAttributeAccuracyStage1: captions.accuracy, chanceCaptionAttributeAccuracy: captions.chance,
            transcriptWordAccuracyStage1: transcripts,
            chanceImageQAAccuracy: chanceAccuracy(imageQA.items),
            controlImageQAAccuracy: controlImage.accuracy, controlSpokenQAAccuracy: controlSpoken.accuracy,
            imageQAAccuracyByKind: DemoScoring.accuracyByKind(imageQA.items.map { ($0.kind, $0.correct) }),
            spokenQAAccuracyByKind: DemoScoring.accuracyByKind(spokenQA.items.map { ($0.kind, $0.correct) }),
            testImageQuestions: imageQA.items.count, testSpokenQuestions: spokenQA.items.count, testCaptions: captions.count,
            secondsTotal: secondsStage1 + secondsStage2 + secondsEvaluation, secondsData: secondsData,
            secondsStage1: secondsStage1, secondsStage2: secondsStage2, secondsEvaluation: secondsEvaluation,
            threads: Threads.count, lossCurves: curves,
            examples: (imageQA.items.prefix(4) + spokenQA.items.prefix(4)).map(\.example))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: options.output.appendingPathComponent("results.json"), options: .atomic)
        return results
    }

    /// `--set` overrides that point the recipe at the world in `world`: its `data.media_root` and every
    /// data file (of `data` and of each stage) under the recipe's own media root, moved there. The
    /// recipe names the files.
    func worldOverrides(_ recipe: Recipe, world: String) throws -> [String] {
        guard let root = recipe.data.mediaRoot else { throw RecipeError("\(options.recipe): the demo recipe sets data.media_root") }
        func moved(_ files: [String]) throws -> String {
            let paths = try files.map { file in
                guard file.hasPrefix(root + "/") else {
                    throw RecipeError("\(options.recipe): \(file) is not under data.media_root (\(root))")
                }
                return world + file.dropFirst(root.count)
            }
            return "[" + paths.joined(separator: ", ") + "]"
        }
        var overrides = ["data.media_root=\(world)"]
        if let train = recipe.data.train { overrides.append("data.train=\(try moved(train))") }
        if let eval = recipe.data.eval { overrides.append("data.eval=\(try moved(eval))") }
        for (index, stage) in recipe.stages.enumerated() {
            if let train = stage.data?.train { overrides.append("stages.\(index).data.train=\(try moved(train))") }
            if let eval = stage.data?.eval { overrides.append("stages.\(index).data.eval=\(try moved(eval))") }
        }
        return overrides
    }

    func generateWorld(into directory: URL) throws {
        var world = DemoWorldOptions(outputDirectory: directory)
        world.seed = options.seed
        world.splits = [.stage1, .stage2, .test]
        world.testQA = options.testQuestions
        world.testSpokenQA = options.testQuestions
        world.testCaptions = options.testCaptions
        log(try DemoWorld.generate(options: world).description)
    }

    // MARK: scoring

    struct AnswerItem {
        var kind: String
        var correct: Bool
        var example: DemoResults.Example
    }

    /// Extra fields of the test files (question kind, spoken text) by sample id.
    func sidecar(_ file: String) throws -> [String: [String: Any]] {
        guard let data = FileManager.default.contents(atPath: file),
              let array = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw RecipeError("cannot read \(file) as a JSON array")
        }
        return Dictionary(array.compactMap { item in (item["id"] as? String).map { ($0, item) } }, uniquingKeysWith: { a, _ in a })
    }

    func relative(_ path: String) -> String {
        let base = options.output.appendingPathComponent("data").path + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// Answers every question of `file` with the vicuna_v1 template; exact match of normalized text.
    func scoreAnswers(_ run: TrainingRun, file: String) throws -> (accuracy: Double, items: [AnswerItem]) {
        let extra = try sidecar(file)
        let conversations = try run.readConversations([file], data: run.recipe.data, skipLog: SkipLog())
        let responder = Responder(run: run, stage: run.recipe.stages[1], options: GenerationOptions(maxNewTokens: 8))
        var items: [AnswerItem] = []
        for conversation in conversations {
            guard let answerIndex = conversation.turns.firstIndex(where: { $0.role == .assistant }) else { continue }
            let truth = conversation.turns[answerIndex].value
            let answer = try responder.reply(to: Array(conversation.turns[..<answerIndex]), media: conversation.media)
            let info = extra[conversation.id] ?? [:]
            let question = info["question"] as? String
                ?? conversation.turns[0].value.replacingOccurrences(of: "<image>", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            items.append(AnswerItem(kind: info["kind"] as? String ?? "unknown",
                                    correct: TaskMetrics.exactMatch(answer, truth),
                                    example: .init(image: relative(conversation.media["image"]?.first ?? ""),
                                                   audio: conversation.media["audio"]?.first.map(relative),
                                                   question: question, answer: answer, truth: truth)))
        }
        guard !items.isEmpty else { throw RecipeError("\(file) has no question to score") }
        return (Double(items.filter(\.correct).count) / Double(items.count), items)
    }

    /// Stage-1 captions of held-out images, scored by attributes; chance pairs each truth with the
    /// caption of another test image.
    func scoreCaptions(_ run: TrainingRun, file: String) throws -> (accuracy: Double, chance: Double, count: Int) {
        let conversations = try run.readConversations([file], data: run.recipe.data, skipLog: SkipLog())
        let responder = Responder(run: run, stage: run.recipe.stages[0], options: GenerationOptions(maxNewTokens: 48))
        var scores: [Double] = [], truths: [[DemoScoring.Described]] = []
        for conversation in conversations {
            guard let answerIndex = conversation.turns.firstIndex(where: { $0.role == .assistant }) else { continue }
            let truth = DemoScoring.objects(inCaption: conversation.turns[answerIndex].value)
            let caption = try responder.reply(to: Array(conversation.turns[..<answerIndex]), media: conversation.media)
            scores.append(DemoScoring.attributeAccuracy(predicted: DemoScoring.objects(inCaption: caption), truth: truth))
            truths.append(truth)
        }
        guard !scores.isEmpty else { throw RecipeError("\(file) has no caption to score") }
        let chance = truths.indices.map { i in DemoScoring.attributeAccuracy(predicted: truths[(i + 1) % truths.count], truth: truths[i]) }
        return (scores.reduce(0, +) / Double(scores.count), chance.reduce(0, +) / Double(chance.count), scores.count)
    }

    /// Stage-1 transcripts of the held-out spoken questions: mean word accuracy.
    func scoreTranscripts(_ run: TrainingRun, file: String) throws -> Double {
        let extra = try sidecar(file)
        let conversations = try run.readConversations([file], data: run.recipe.data, skipLog: SkipLog())
        let responder = Responder(run: run, stage: run.recipe.stages[0], options: GenerationOptions(maxNewTokens: 24))
        var scores: [Double] = []
        for conversation in conversations.prefix(100) {
            guard let audio = conversation.media["audio"], let question = extra[conversation.id]?["question"] as? String else { continue }
            let prompt = Conversation.Turn(from: "human", value: "\(Placeholder.audio.text)\n\(Caption.transcriptionPrompt)")
            let transcript = try responder.reply(to: [prompt], media: ["audio": audio])
            scores.append(DemoScoring.wordAccuracy(transcript, question))
        }
        return scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }

    /// Mean over the questions of 1 / (distinct answers to questions of its kind in the test set).
    func chanceAccuracy(_ items: [AnswerItem]) -> Double {
        var answers: [String: Set<String>] = [:]
        for item in items { answers[item.kind, default: []].insert(DemoScoring.normalized(item.example.truth)) }
        let chances = items.map { 1 / Double(max(answers[$0.kind]?.count ?? 1, 1)) }
        return chances.reduce(0, +) / Double(max(chances.count, 1))
    }
}
