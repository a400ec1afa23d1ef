/// One sample of one file: its JSON, and the scene, image, utterance and question behind it.
public struct PlannedSample: Sendable {
    public var id: String
    public var scene: Scene
    /// `images/NNNNNN.png` when the sample shows its scene.
    public var imageIndex: Int?
    /// The spoken text, when the sample has audio.
    public var utterance: Utterance?
    /// The question asked, for QA, transcription and speech samples.
    public var question: Question?
    public var json: JSONValue
}

/// One output file (e.g. "stage2/image_qa.json") and its samples, in order.
public struct PlannedFile: Sendable {
    public var path: String
    public var split: DemoSplit
    public var samples: [PlannedSample]
}

/// Every file of the world, decided before anything is written. Planning is cheap (no pixels, no
/// audio), so all files are always planned: image numbers and the test signatures are then the same
/// whichever splits are written.
///
/// Each file draws from its own random stream named by its path; the test scenes come first from
/// "test/scenes" and are all held out (`Scene.isHeldOut`, a fixed hash of the signature: the same
/// for every seed); every other file redraws held-out scenes, so no training or pretraining file of
/// any seed shows a test scene.
public struct WorldPlan: Sendable {
    public var files: [PlannedFile]
    /// Signatures of the test split's scenes: no other file has a scene with one of them.
    public var testSignatures: Set<[ObjectKey]>
    /// Lines of pretrain/tokenizer_corpus.txt.
    public var tokenizerCorpus: [String]

    public init(options: DemoWorldOptions) throws {
        var builder = PlanBuilder(seed: options.seed)
        // Test scenes first, all held out; the three test files take consecutive slices. (Not
        // distinct: only 96 one-object signatures are held out, fewer than a third of the test set.)
        var testPool = ScenePool(excluded: [], isDistinct: false, heldOut: true)
        var testRandom = WorldRandom(seed: options.seed, stream: "test/scenes")
        var testScenes: [Scene] = []
        for _ in 0..<(options.testQA + options.testSpokenQA + options.testCaptions) {
            testScenes.append(try testPool.next(&testRandom))
        }
        testSignatures = Set(testScenes.map(\.signature))
        builder.training = ScenePool(excluded: [], isDistinct: false, heldOut: false)

        let qaEnd = options.testQA, spokenEnd = options.testQA + options.testSpokenQA
        var corpus = Caption.imagePrompts + [Caption.textPrompt, Caption.transcriptionPrompt, Caption.repeatPrompt]
        let text = try builder.text("pretrain/text.json", count: options.pretrainText,
                                    rounds: options.stage2ImageQARounds, corpus: &corpus)
        let eval = options.evalSamples
        files = [
            try builder.vision("pretrain/vision.json", count: options.pretrainVisionImages),
            try builder.speech("pretrain/speech.json", count: options.pretrainSpeech),
            text,
            try builder.captions("stage1/captions.json", split: .stage1, scenes: .training(options.stage1Images)),
            try builder.captions("stage1/captions_eval.json", split: .stage1, scenes: .training(eval)),
            try builder.transcripts("stage1/transcripts.json", scenes: .training(options.stage1Speech)),
            try builder.transcripts("stage1/transcripts_eval.json", scenes: .training(eval)),
            try builder.spokenTextQA("stage1/spoken_text_qa.json", count: options.stage1SpokenTextQA),
            try builder.spokenTextQA("stage1/spoken_text_qa_eval.json", count: eval),
            try builder.imageQA("stage2/image_qa.json", split: .stage2, scenes: .training(options.stage2ImageQA),
                                imageQARounds: options.stage2ImageQARounds),
            try builder.imageQA("stage2/image_qa_eval.json", split: .stage2, scenes: .training(eval),
                                imageQARounds: options.stage2ImageQARounds),
            try builder.spokenQA("stage2/spoken_qa.json", split: .stage2, scenes: .training(options.stage2SpokenQA)),
            try builder.spokenQA("stage2/spoken_qa_eval.json", split: .stage2, scenes: .training(eval)),
            try builder.imageQA("test/image_qa.json", split: .test, scenes: .given(Array(testScenes[0..<qaEnd])), imageQARounds: 1),
            try builder.spokenQA("test/spoken_qa.json", split: .test, scenes: .given(Array(testScenes[qaEnd..<spokenEnd]))),
            try builder.captions("test/captions.json", split: .test, scenes: .given(Array(testScenes[spokenEnd...]))),
        ]
        tokenizerCorpus = corpus
    }

    /// The file at `path` ("stage2/image_qa.json").
    public func file(_ path: String) -> PlannedFile? { files.first { $0.path == path } }
}

/// Builds the files one by one; holds the training scene pool and the next image number.
private struct PlanBuilder {
    let seed: UInt64
    var training = ScenePool(excluded: [], isDistinct: false, heldOut: false)
    var nextImage = 0
    /// The stream scenes are drawn from for the file being built (`trainingScenes`).
    var sceneRandom: WorldRandom

    init(seed: UInt64) {
        self.seed = seed
        sceneRandom = WorldRandom(seed: seed)
    }

    /// Starts the streams of the file at `path`: returns its text stream and sets its scene stream.
    mutating func begin(_ path: String) -> WorldRandom {
        sceneRandom = WorldRandom(seed: seed, stream: path + "#scenes")
        return WorldRandom(seed: seed, stream: path)
    }

    /// `count` training scenes from the current file's scene stream.
    mutating func trainingScenes(_ count: Int) throws -> [Scene] {
        var scenes: [Scene] = []
        for _ in 0..<count { scenes.append(try training.next(&sceneRandom)) }
        return scenes
    }

    /// The scenes of the file being built (call after `begin`).
    mutating func scenes(_ source: SceneSource) throws -> [Scene] {
        switch source {
        case .training(let count): return try trainingScenes(count)
        case .given(let scenes): return scenes
        }
    }

    mutating func takeImage() -> (Int, JSONValue) {
        defer { nextImage += 1 }
        return (nextImage, .string(WorldFormat.imagePath(nextImage)))
    }

    mutating func vision(_ path: String, count: Int) throws -> PlannedFile {
        _ = begin(path)
        var samples: [PlannedSample] = []
        for (i, scene) in try trainingScenes(count).enumerated() {
            let id = WorldFormat.id(path, i)
            let (index, image) = takeImage()
            samples.append(PlannedSample(id: id, scene: scene, imageIndex: index, json: .object([
                ("id", .string(id)), ("image", image), ("objects", WorldFormat.objects(scene)),
            ])))
        }
        return PlannedFile(path: path, split: .pretrain, samples: samples)
    }

    /// Distinct utterances (text, voice, rate): a question drawn again in the same voice and rate is
    /// redrawn, so every clip the audio encoder trains on is a new one (common questions such as the
    /// count would otherwise fill most of the file with repeats).
    mutating func speech(_ path: String, count: Int) throws -> PlannedFile {
        var random = begin(path)
        var questions = QuestionGenerator(random: &random)
        var samples: [PlannedSample] = []
        var spoken: Set<Utterance> = []
        var redraws = 0
        while samples.count < count {
            let scene = try trainingScenes(1)[0]
            let question = questions.question(for: scene, random: &random)
            let utterance = SpeechStyle.utterance(question.text, random: &random)
            guard spoken.insert(utterance).inserted else {
                redraws += 1
                if redraws > 100 * max(count, 1) {
                    throw WorldError("\(path): only \(samples.count) distinct utterances found for \(count) clips")
                }
                continue
            }
            let id = WorldFormat.id(path, samples.count)
            samples.append(PlannedSample(id: id, scene: scene, utterance: utterance, question: question, json: .object([
                ("id", .string(id)), ("audio", .string(utterance.relativePath)), ("text", .string(question.text)),
            ])))
        }
        return PlannedFile(path: path, split: .pretrain, samples: samples)
    }

    /// Up to `count` questions about `scene` with different texts, the first always kept (a scene
    /// allowing fewer distinct questions gives fewer after 4 × `count` draws).
    static func distinctQuestions(_ count: Int, about scene: Scene, questions: inout QuestionGenerator,
                                  random: inout WorldRandom) -> [Question] {
        var asked = [questions.question(for: scene, random: &random)]
        var texts: Set<String> = [asked[0].text]
        for _ in 0..<(4 * count) where asked.count < count {
            let next = questions.question(for: scene, random: &random)
            if texts.insert(next.text).inserted { asked.append(next) }
        }
        return asked
    }

    /// What a text-only pretraining conversation asks.
    enum TextTask: CaseIterable { case answer, restateCaption, restateQuestion, describe, repeatWords }

    /// Text-only conversations that teach the language model the world's language and to read scenes
    /// written in the grid notation (`GridNotation`), the form an image takes after its connector:
    /// - 45% answer questions about a scene of two or three shapes ("{grid}\n{question}" → answer, then
    ///   further rounds of other questions, `rounds` in all, as stage 2's image conversations have).
    ///   With one shape, every question is answered by reading the only shape there is, and a model
    ///   that learned only that answered two- and three-shape scenes far worse (docs/demo.md);
    /// - 20% describe a scene in words ("{grid}\n{image prompt}" → caption, the form stage 1 then asks
    ///   of an image);
    /// - 10% restate a question ("{question}\ntranscribe the question." → question, the form of
    ///   stage 1's transcripts);
    /// - 5% caption a scene from nothing ("describe a scene." → caption);
    /// - 20% repeat a random run of the world's words ("{words}\nrepeat the words." → words): nothing
    ///   but copying lowers that loss, and copying from the context is what reading a scene needs.
    mutating func text(_ path: String, count: Int, rounds: Int, corpus: inout [String]) throws -> PlannedFile {
        var random = begin(path)
        var questions = QuestionGenerator(random: &random)
        let shares: [(TextTask, Int)] = [(.answer, 45), (.restateCaption, 20), (.restateQuestion, 10), (.describe, 5), (.repeatWords, 20)]
        var tasks: [TextTask] = []
        for (task, share) in shares.dropFirst() { tasks += Array(repeating: task, count: count * share / 100) }
        tasks = random.shuffled(tasks + Array(repeating: .answer, count: count - tasks.count))
        var samples: [PlannedSample] = []
        for i in 0..<count {
            let scene = try training.next(&sceneRandom, minObjects: tasks[i] == .answer ? 2 : 1)
            let id = WorldFormat.id(path, i)
            // The leading space puts the grid's words where an image's tokens go: a chat template's
            // "USER: " before an "<image>" placeholder encodes its space as a token of its own.
            let caption = Caption.text(for: scene), grid = " " + GridNotation.text(for: scene)
            var question: Question?
            var conversation: [(human: String, gpt: String)]
            switch tasks[i] {
            case .answer:
                let asked = PlanBuilder.distinctQuestions(rounds, about: scene, questions: &questions, random: &random)
                question = asked[0]
                conversation = asked.map { ($0.text, $0.answer) }
                conversation[0].human = grid + "\n" + asked[0].text
                corpus += [grid] + asked.flatMap { [$0.text, $0.answer] }
            case .restateCaption:
                conversation = [(grid + "\n" + random.element(of: Caption.imagePrompts), caption)]
                corpus += [grid, caption]
            case .restateQuestion:
                let q = questions.question(for: scene, random: &random)
                question = q
                conversation = [(q.text + "\n" + Caption.transcriptionPrompt, q.text)]
                corpus.append(q.text)
            case .describe:
                conversation = [(Caption.textPrompt, caption)]
                corpus.append(caption)
            case .repeatWords:
                let count = random.int(in: 6...16)
                let words = (0..<count).map { _ in random.element(of: Caption.repeatableWords) }.joined(separator: " ")
                conversation = [(words + "\n" + Caption.repeatPrompt, words)]
                corpus.append(words)
            }
            samples.append(PlannedSample(id: id, scene: scene, question: question, json: .object([
                ("id", .string(id)), ("conversations", WorldFormat.conversation(conversation)),
            ])))
        }
        return PlannedFile(path: path, split: .pretrain, samples: samples)
    }

    /// "<image>\n{prompt}" → caption. Test captions also carry "objects".
    mutating func captions(_ path: String, split: DemoSplit, scenes source: SceneSource) throws -> PlannedFile {
        var random = begin(path)
        var samples: [PlannedSample] = []
        for (i, scene) in try scenes(source).enumerated() {
            let id = WorldFormat.id(path, i)
            let (index, image) = takeImage()
            let prompt = random.element(of: Caption.imagePrompts)
            var fields: [(String, JSONValue)] = [
                ("id", .string(id)), ("image", image),
                ("conversations", WorldFormat.conversation("<image>\n" + prompt, Caption.text(for: scene))),
            ]
            if split == .test { fields.append(("objects", WorldFormat.objects(scene))) }
            samples.append(PlannedSample(id: id, scene: scene, imageIndex: index, json: .object(fields)))
        }
        return PlannedFile(path: path, split: split, samples: samples)
    }

    /// "<audio>\ntranscribe the question." → the question's exact words.
    mutating func transcripts(_ path: String, scenes source: SceneSource) throws -> PlannedFile {
        var random = begin(path)
        var questions = QuestionGenerator(random: &random)
        var samples: [PlannedSample] = []
        for (i, scene) in try scenes(source).enumerated() {
            let id = WorldFormat.id(path, i)
            let question = questions.question(for: scene, random: &random)
            let utterance = SpeechStyle.utterance(question.text, random: &random)
            samples.append(PlannedSample(id: id, scene: scene, utterance: utterance, question: question, json: .object([
                ("id", .string(id)), ("audio", .string(utterance.relativePath)),
                ("conversations", WorldFormat.conversation("<audio>\n" + Caption.transcriptionPrompt, question.text)),
            ])))
        }
        return PlannedFile(path: path, split: .stage1, samples: samples)
    }

    /// " {grid}\n<audio>" (a scene in grid notation, then the question spoken) → the short answer:
    /// the language model's own answering task with the question heard instead of read. Stage 1
    /// aligns the audio connector on it (the language model frozen), so that a heard question is read
    /// as a question about the scene before it. With a connector aligned on transcripts alone, the
    /// audio tokens in the context broke the model's lookups in the scene (docs/demo.md).
    mutating func spokenTextQA(_ path: String, count: Int) throws -> PlannedFile {
        var random = begin(path)
        var questions = QuestionGenerator(random: &random)
        var samples: [PlannedSample] = []
        for (i, scene) in try trainingScenes(count).enumerated() {
            let id = WorldFormat.id(path, i)
            let question = questions.question(for: scene, random: &random)
            let utterance = SpeechStyle.utterance(question.text, random: &random)
            samples.append(PlannedSample(id: id, scene: scene, utterance: utterance, question: question, json: .object([
                ("id", .string(id)), ("audio", .string(utterance.relativePath)),
                ("conversations", WorldFormat.conversation(" " + GridNotation.text(for: scene) + "\n<audio>", question.answer)),
                ("question", .string(question.text)),
            ])))
        }
        return PlannedFile(path: path, split: .stage1, samples: samples)
    }

    /// "<image>\n{question}" → answer. Test samples also carry "kind".
    mutating func imageQA(_ path: String, split: DemoSplit, scenes source: SceneSource, imageQARounds: Int) throws -> PlannedFile {
        var random = begin(path)
        var questions = QuestionGenerator(random: &random)
        var samples: [PlannedSample] = []
        for (i, scene) in try scenes(source).enumerated() {
            let id = WorldFormat.id(path, i)
            let (index, image) = takeImage()
            // Training conversations ask several different questions about their image (LLaVA's
            // instruction data is multi-round); the test asks one.
            let asked = PlanBuilder.distinctQuestions(split == .test ? 1 : imageQARounds, about: scene,
                                                      questions: &questions, random: &random)
            let question = asked[0]
            var rounds: [(human: String, gpt: String)] = asked.map { ($0.text, $0.answer) }
            rounds[0].human = "<image>\n" + question.text
            var fields: [(String, JSONValue)] = [
                ("id", .string(id)), ("image", image), ("conversations", WorldFormat.conversation(rounds)),
            ]
            if split == .test { fields.append(("kind", .string(question.kind.rawValue))) }
            samples.append(PlannedSample(id: id, scene: scene, imageIndex: index, question: question, json: .object(fields)))
        }
        return PlannedFile(path: path, split: split, samples: samples)
    }

    /// "<image>\n<audio>" (the question spoken) → answer, with the question's text under "question".
    /// Test samples also carry "kind".
    mutating func spokenQA(_ path: String, split: DemoSplit, scenes source: SceneSource) throws -> PlannedFile {
        var random = begin(path)
        var questions = QuestionGenerator(random: &random)
        var samples: [PlannedSample] = []
        for (i, scene) in try scenes(source).enumerated() {
            let id = WorldFormat.id(path, i)
            let (index, image) = takeImage()
            let question = questions.question(for: scene, random: &random)
            let utterance = SpeechStyle.utterance(question.text, random: &random)
            var fields: [(String, JSONValue)] = [
                ("id", .string(id)), ("image", image), ("audio", .string(utterance.relativePath)),
                ("conversations", WorldFormat.conversation("<image>\n<audio>", question.answer)),
                ("question", .string(question.text)),
            ]
            if split == .test { fields.append(("kind", .string(question.kind.rawValue))) }
            samples.append(PlannedSample(id: id, scene: scene, imageIndex: index, utterance: utterance,
                                         question: question, json: .object(fields)))
        }
        return PlannedFile(path: path, split: split, samples: samples)
    }
}

/// Where a file's scenes come from: fresh training scenes, or the held-out test scenes.
private enum SceneSource {
    case training(Int)
    case given([Scene])
}

/// The shapes of the JSON the world writes.
enum WorldFormat {
    /// "stage2/image_qa.json", 12 → "stage2_image_qa_000012".
    static func id(_ path: String, _ index: Int) -> String {
        let stem = path.hasSuffix(".json") ? String(path.dropLast(5)) : path
        return stem.replacingOccurrences(of: "/", with: "_") + "_" + padded(index)
    }

    static func imagePath(_ index: Int) -> String { "images/\(padded(index)).png" }

    static func padded(_ index: Int) -> String {
        let digits = String(index)
        return digits.count >= 6 ? digits : String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// LLaVA's two-turn conversation.
    static func conversation(_ human: String, _ gpt: String) -> JSONValue { conversation([(human, gpt)]) }

    /// Several rounds, as LLaVA's instruction data has them.
    static func conversation(_ rounds: [(human: String, gpt: String)]) -> JSONValue {
        .array(rounds.flatMap { round in [
            JSONValue.object([("from", .string("human")), ("value", .string(round.human))]),
            JSONValue.object([("from", .string("gpt")), ("value", .string(round.gpt))]),
        ] })
    }

    /// [{"shape","colour","size","row","col"}] in reading order.
    static func objects(_ scene: Scene) -> JSONValue {
        .array(scene.objectsInReadingOrder.map { object in
            .object([
                ("shape", .string(object.shape.rawValue)), ("colour", .string(object.colour.rawValue)),
                ("size", .string(object.size.rawValue)), ("row", .int(object.row)), ("col", .int(object.col)),
            ])
        })
    }
}
