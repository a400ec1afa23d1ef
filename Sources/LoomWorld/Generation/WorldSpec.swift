/// world.json: the rules of the world, the seed and counts, and chance accuracies.
enum WorldSpec {
    static func json(options: DemoWorldOptions, plan: WorldPlan) -> JSONValue {
        let g = WorldGeometry.self
        let colours: [JSONValue] = Colour.allCases.map { colour in
            let rgb = colour.baseRGB
            return .object([("name", .string(colour.rawValue)),
                            ("rgb", .array([.int(Int(rgb.0)), .int(Int(rgb.1)), .int(Int(rgb.2))]))])
        }
        let sizes: [JSONValue] = Size.allCases.map { size in
            .object([("name", .string(size.rawValue)),
                     ("radius", .array([.double(size.radiusRange.lowerBound), .double(size.radiusRange.upperBound)]))])
        }
        let kinds = QuestionKind.allCases
        let testQA = plan.file("test/image_qa.json")?.samples.compactMap(\.question) ?? []
        let chance = testQA.isEmpty ? Double.nan
            : testQA.map(\.kind.chanceAccuracy).reduce(0, +) / Double(testQA.count)
        let files = plan.files.filter { options.splits.contains($0.split) }
        return .object([
            ("seed", .string(String(options.seed))),
            ("splits", .array(DemoSplit.allCases.filter(options.splits.contains).map { .string($0.rawValue) })),
            ("image", .object([
                ("width", .int(g.imageSize)), ("height", .int(g.imageSize)), ("grid", .int(g.gridSize)),
                ("cell_size", .int(g.cellSize)), ("supersampling", .int(g.supersampling)),
                ("background_levels", .array([.int(g.backgroundLevels.lowerBound), .int(g.backgroundLevels.upperBound)])),
                ("background_noise", .int(g.backgroundNoise)), ("colour_jitter", .int(g.colourJitter)),
                ("objects_per_scene", .array(g.objectCounts.map { .int($0) })),
            ])),
            ("shapes", .array(Shape.allCases.map { .string($0.rawValue) })),
            ("colours", .array(colours)),
            ("sizes", .array(sizes)),
            ("speech", .object([
                ("voices", .array(SpeechStyle.voices.map { .string($0) })),
                ("rates", .array(SpeechStyle.rates.map { .int($0) })),
                ("sample_rate", .int(SpeechStyle.sampleRate)), ("max_seconds", .double(SpeechStyle.maxSeconds)),
            ])),
            ("prompts", .object([
                ("image_caption", .array(Caption.imagePrompts.map { .string($0) })),
                ("text_caption", .string(Caption.textPrompt)), ("transcription", .string(Caption.transcriptionPrompt)),
            ])),
            ("question_kinds", .array(kinds.map { .string($0.rawValue) })),
            ("answers", .object(kinds.map { ($0.rawValue, .array($0.possibleAnswers.map { .string($0) })) })),
            ("chance", .object(kinds.map { ($0.rawValue, .double($0.chanceAccuracy)) })),
            ("test_image_qa_chance", .double(chance)),
            ("test_image_qa_kinds", .object(kinds.map { kind in (kind.rawValue, .int(testQA.filter { $0.kind == kind }.count)) })),
            ("test_signatures", .int(plan.testSignatures.count)),
            ("counts", .object(options.counts.map { ($0.flag, .int($0.value)) })),
            ("files", .object(files.map { ($0.path, .int($0.samples.count)) })),
        ])
    }
}
