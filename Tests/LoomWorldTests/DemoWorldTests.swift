import LoomData
import LoomImages
import XCTest
@testable import LoomWorld

final class DemoWorldTests: XCTestCase {
    func testSameSeedWritesIdenticalFilesAndAnotherSeedDoesNot() throws {
        let first = try temporaryDirectory(self), second = try temporaryDirectory(self), third = try temporaryDirectory(self)
        try DemoWorld.generate(options: silentOptions(first, seed: 7))
        var fewerThreads = silentOptions(second, seed: 7)
        fewerThreads.renderThreads = 1
        try DemoWorld.generate(options: fewerThreads)
        try DemoWorld.generate(options: silentOptions(third, seed: 8))

        let a = try filesByPath(first), b = try filesByPath(second), c = try filesByPath(third)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        XCTAssertEqual(a.keys.filter { $0.hasSuffix(".png") }.count, 24 + 20 + 60 + 40 + 20)
        for (path, bytes) in a { XCTAssertEqual(bytes, b[path], "\(path) differs between runs with one seed") }
        for path in ["pretrain/vision.json", "pretrain/text.json", "stage1/captions.json", "stage2/image_qa.json",
                     "test/image_qa.json", "test/captions.json", "images/000000.png"] {
            XCTAssertNotNil(c[path])
            XCTAssertNotEqual(a[path], c[path], "\(path) is the same for seeds 7 and 8")
        }
    }

    func testTestScenesAreHeldOutForEverySeed() throws {
        var options = silentOptions(URL(fileURLWithPath: "/nonexistent"))
        options.pretrainVisionImages = 3000  // enough one-object scenes to hit held-out signatures often
        options.testQA = 300
        options.testCaptions = 200
        let plan = try WorldPlan(options: options)
        var testSignatures: [[ObjectKey]] = []
        var trainingCount = 0
        for file in plan.files {
            for sample in file.samples {
                // The held-out rule is a hash of the signature, not of the seed: checked here independently.
                let held = heldOutByHash(sample.scene.signature)
                if file.split == .test {
                    testSignatures.append(sample.scene.signature)
                    XCTAssertTrue(held, "\(sample.id) is a test scene outside the held-out world")
                } else {
                    trainingCount += 1
                    XCTAssertFalse(held, "\(sample.id) shows a held-out scene")
                    XCTAssertFalse(plan.testSignatures.contains(sample.scene.signature), "\(sample.id) is a test scene")
                }
            }
        }
        XCTAssertEqual(testSignatures.count, 500)
        XCTAssertGreaterThan(Set(testSignatures).count, 400, "test scenes are mostly distinct")
        XCTAssertEqual(Set(testSignatures), plan.testSignatures)
        XCTAssertGreaterThan(trainingCount, 3000)
        // Another seed's test scenes are held out from this seed's training files too.
        options.seed = 77
        let other = try WorldPlan(options: options)
        for file in plan.files where file.split != .test {
            for sample in file.samples { XCTAssertFalse(other.testSignatures.contains(sample.scene.signature), sample.id) }
        }
    }

    func testPretrainingSpeechClipsAreDistinctUtterances() throws {
        var options = silentOptions(URL(fileURLWithPath: "/nonexistent"))
        options.pretrainSpeech = 3000   // the count question alone would repeat hundreds of times
        let plan = try WorldPlan(options: options)
        let utterances = try XCTUnwrap(plan.file("pretrain/speech.json")).samples.compactMap(\.utterance)
        XCTAssertEqual(utterances.count, 3000)
        XCTAssertEqual(Set(utterances).count, 3000)
        XCTAssertEqual(Set(utterances.map(\.relativePath)).count, 3000)
        XCTAssertGreaterThan(utterances.filter { $0.text == "how many shapes are there?" }.count, 5)
    }

    /// An independent FNV-1a of "row,col,shape,colour,size;" per sorted object: 1 signature in 8.
    func heldOutByHash(_ signature: [ObjectKey]) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for key in signature {
            for byte in "\(key.row),\(key.col),\(key.shape.rawValue),\(key.colour.rawValue),\(key.size.rawValue);".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return hash % 8 == 0
    }

    func testHeldOutInTheWrittenFiles() throws {
        let directory = try temporaryDirectory(self)
        var options = silentOptions(directory)
        options.pretrainVisionImages = 1500
        options.testCaptions = 150
        try DemoWorld.generate(options: options)
        func signature(_ sample: [String: Any]) throws -> [String] {
            let objects = try XCTUnwrap(sample["objects"] as? [[String: Any]])
            return objects.map { "\($0["row"]!) \($0["col"]!) \($0["shape"]!) \($0["colour"]!) \($0["size"]!)" }.sorted()
        }
        let test = Set(try samples(directory, "test/captions.json").map(signature))
        XCTAssertGreaterThan(test.count, 120)  // held-out one-object scenes repeat (96 signatures)
        let training = try samples(directory, "pretrain/vision.json").map(signature)
        XCTAssertEqual(training.count, 1500)
        XCTAssertTrue(training.allSatisfy { !test.contains($0) })
        // One-object scenes repeat in training (there are only 768 of them), so the filter was exercised.
        XCTAssertLessThan(Set(training).count, training.count)
    }

    /// Stage 1's spoken text questions: a scene in grid notation, the question heard, its answer.
    func testSpokenTextQuestionsAskAboutTheirGrid() throws {
        var options = silentOptions(try temporaryDirectory(self))
        options.stage1SpokenTextQA = 40
        let plan = try WorldPlan(options: options)
        let file = try XCTUnwrap(plan.file("stage1/spoken_text_qa.json"))
        XCTAssertEqual(file.samples.count, 40)
        for sample in file.samples {
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(sample.json.compact.utf8)) as? [String: Any])
            let (human, gpt) = try turns(json)
            let question = try XCTUnwrap(sample.question)
            XCTAssertNil(sample.imageIndex)
            XCTAssertEqual(sample.utterance?.text, question.text)
            XCTAssertEqual(human, " " + GridNotation.text(for: sample.scene) + "\n<audio>")
            XCTAssertEqual(json["question"] as? String, question.text)
            switch AnswerOracle.answer(question.text, items: AnswerOracle.items(sample.scene)) {
            case .success(let answer): XCTAssertEqual(gpt, answer, question.text)
            case .failure(let reason): XCTFail("\(question.text): \(reason)")
            }
        }
        XCTAssertGreaterThan(Set(file.samples.map { $0.question!.kind }).count, 4)
    }

    func testFilesMatchThePlanAndLoomReadsThem() throws {
        let directory = try temporaryDirectory(self)
        let options = silentOptions(directory)
        try DemoWorld.generate(options: options)
        let plan = try WorldPlan(options: options)
        for file in plan.files where file.path != "pretrain/vision.json" && !file.samples.isEmpty {
            let (read, failures) = try DatasetFile.read(directory.appendingPathComponent(file.path).path)
            XCTAssertEqual(failures.map(\.description), [], file.path)
            XCTAssertEqual(read.map(\.id), file.samples.map(\.id), file.path)
            for sample in read {
                for path in sample.media.values.joined() {
                    XCTAssert(FileManager.default.fileExists(atPath: directory.appendingPathComponent(path).path), path)
                }
            }
        }
        // Images are the plan's scenes, rendered.
        for file in plan.files {
            for sample in file.samples.prefix(3) {
                guard let index = sample.imageIndex else { continue }
                let decoded = try ImageDecoder.decode(path: directory.appendingPathComponent(WorldFormat.imagePath(index)).path)
                XCTAssertEqual(decoded, SceneRenderer.render(sample.scene), sample.id)
            }
        }
    }

    func testQuestionAnswerFilesAreRight() throws {
        let directory = try temporaryDirectory(self)
        var options = silentOptions(directory)
        options.testQA = 150
        try DemoWorld.generate(options: options)
        let plan = try WorldPlan(options: options)
        for path in ["stage2/image_qa.json", "test/image_qa.json", "pretrain/text.json"] {
            let planned = try XCTUnwrap(plan.file(path))
            let written = try samples(directory, path)
            XCTAssertEqual(written.count, planned.samples.count)
            for (json, sample) in zip(written, planned.samples) {
                let (human, gpt) = try turns(json)
                let lines = human.split(separator: "\n").map(String.init)
                if path == "pretrain/text.json" && lines == ["describe a scene."] {
                    XCTAssertEqual(gpt, Caption.text(for: sample.scene))
                    continue
                }
                // Describing a scene written in grid notation, or restating a question about it.
                if path == "pretrain/text.json" && lines.count == 2 && Caption.imagePrompts.contains(lines[1]) {
                    XCTAssertEqual(lines[0], " " + GridNotation.text(for: sample.scene))
                    XCTAssertEqual(gpt, Caption.text(for: sample.scene))
                    continue
                }
                if path == "pretrain/text.json" && lines.count == 2 && lines[1] == Caption.repeatPrompt {
                    XCTAssertEqual(gpt, lines[0])
                    let words = lines[0].split(separator: " ").map(String.init)
                    XCTAssertTrue((6...16).contains(words.count), lines[0])
                    XCTAssertTrue(Set(words).isSubset(of: Set(Caption.repeatableWords)), lines[0])
                    continue
                }
                if path == "pretrain/text.json" && lines.count == 2 && lines[1] == Caption.transcriptionPrompt {
                    XCTAssertEqual(gpt, lines[0])
                    continue
                }
                XCTAssertEqual(lines.count, 2, human)
                if path == "pretrain/text.json" {
                    XCTAssertEqual(lines[0], " " + GridNotation.text(for: sample.scene))
                    // Answering is taught on scenes where the named shape must be found among others.
                    XCTAssertGreaterThanOrEqual(sample.scene.objects.count, 2, sample.id)
                } else {
                    XCTAssertEqual(lines[0], "<image>")
                }
                switch AnswerOracle.answer(lines[1], items: AnswerOracle.items(sample.scene)) {
                case .success(let answer): XCTAssertEqual(answer, gpt, "\(path) \(lines[1])")
                case .failure(let reason): XCTFail("\(path) \(lines[1]): \(reason)")
                }
                // Later rounds (training image conversations) ask other questions of the same scene.
                let later = try rounds(json).dropFirst()
                if path != "test/image_qa.json" { XCTAssertGreaterThan(later.count, 0, sample.id) }
                if path.hasPrefix("test/") { XCTAssertEqual(later.count, 0, sample.id) }
                XCTAssertEqual(Set(try rounds(json).map(\.human)).count, later.count + 1, "\(sample.id) repeats a question")
                for round in later {
                    switch AnswerOracle.answer(round.human, items: AnswerOracle.items(sample.scene)) {
                    case .success(let answer): XCTAssertEqual(answer, round.gpt, "\(path) \(round.human)")
                    case .failure(let reason): XCTFail("\(path) \(round.human): \(reason)")
                    }
                }
                if path.hasPrefix("test/") {
                    XCTAssertEqual(json["kind"] as? String, sample.question?.kind.rawValue)
                }
            }
        }
        // The text conversations: 45% answering, 20% describing a grid, 10% restating a question,
        // 5% captioning from nothing, 20% repeating words; restated text is given back word for word.
        let text = try samples(directory, "pretrain/text.json")
        let conversations = try text.map(turns)
        let describing = conversations.filter { $0.human == "describe a scene." }.count
        let restatingQuestions = conversations.filter { $0.human.hasSuffix("\ntranscribe the question.") }
        let restatingCaptions = conversations.filter { c in ["describe the picture.", "what is in the image?", "describe the scene."].contains { c.human.hasSuffix("\n" + $0) } }
        let repeating = conversations.filter { $0.human.hasSuffix("\nrepeat the words.") }
        XCTAssertEqual(describing, text.count * 5 / 100)
        XCTAssertEqual(restatingQuestions.count, text.count * 10 / 100)
        XCTAssertEqual(restatingCaptions.count, text.count * 20 / 100)
        XCTAssertEqual(repeating.count, text.count * 20 / 100)
        for c in repeating { XCTAssertEqual(c.human, c.gpt + "\nrepeat the words.") }
        for c in restatingQuestions { XCTAssertTrue(c.human.hasPrefix(c.gpt + "\n"), c.human) }
        // Yes/no answers of the test set are balanced.
        let test = try samples(directory, "test/image_qa.json")
        for kind in ["existence", "relation"] {
            let answers = try test.filter { $0["kind"] as? String == kind }.map { try turns($0).gpt }
            let yes = answers.filter { $0 == "yes" }.count
            XCTAssertLessThanOrEqual(abs(2 * yes - answers.count), 1, "\(kind): \(yes) yes of \(answers.count)")
        }
    }

    func testWorldJSONChanceIsTheMeanOverTheTestSet() throws {
        let directory = try temporaryDirectory(self)
        try DemoWorld.generate(options: silentOptions(directory))
        let data = try Data(contentsOf: directory.appendingPathComponent("world.json"))
        let world = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let answerCounts = ["colour": 6, "shape": 4, "count": 3, "size": 2, "position": 4, "existence": 2, "relation": 2]
        let test = try samples(directory, "test/image_qa.json")
        let expected = test.map { 1 / Double(answerCounts[$0["kind"] as! String]!) }.reduce(0, +) / Double(test.count)
        XCTAssertEqual(try XCTUnwrap(world["test_image_qa_chance"] as? Double), expected, accuracy: 1e-12)
        let chance = try XCTUnwrap(world["chance"] as? [String: Double])
        for (kind, count) in answerCounts { XCTAssertEqual(chance[kind]!, 1 / Double(count), accuracy: 1e-12) }
        XCTAssertEqual(world["seed"] as? String, "7")
        XCTAssertEqual((world["speech"] as? [String: Any])?["voices"] as? [String], SpeechStyle.voices)
        let corpus = try String(contentsOf: directory.appendingPathComponent("pretrain/tokenizer_corpus.txt"), encoding: .utf8)
        XCTAssert(corpus.contains("describe the picture.\n"))
        XCTAssert(corpus.contains("transcribe the question.\n"))
    }

    func testSomeSplitsWriteTheSameFilesAsAll() throws {
        let all = try temporaryDirectory(self), some = try temporaryDirectory(self)
        try DemoWorld.generate(options: silentOptions(all))
        var options = silentOptions(some)
        options.splits = [.stage2, .test]
        try DemoWorld.generate(options: options)
        let a = try filesByPath(all), b = try filesByPath(some)
        XCTAssertNil(b["pretrain/vision.json"])
        XCTAssertNil(b["stage1/captions.json"])
        for (path, bytes) in b where path != "world.json" { XCTAssertEqual(bytes, a[path], path) }
        XCTAssertEqual(b.keys.filter { $0.hasSuffix(".png") }.count, 60 + 40 + 20)
    }

    func testSplitsParseAndCountsValidate() throws {
        XCTAssertEqual(try DemoWorldOptions.parseSplits("all"), Set(DemoSplit.allCases))
        XCTAssertEqual(try DemoWorldOptions.parseSplits("stage1, test"), [.stage1, .test])
        XCTAssertThrowsError(try DemoWorldOptions.parseSplits("stage3")) { error in
            XCTAssert("\(error)".contains("unknown split 'stage3'"))
        }
        var options = silentOptions(URL(fileURLWithPath: "/tmp"))
        options.testQA = -1
        XCTAssertThrowsError(try DemoWorld.generate(options: options)) { error in
            XCTAssert("\(error)".contains("--test-qa"))
        }
    }
}
