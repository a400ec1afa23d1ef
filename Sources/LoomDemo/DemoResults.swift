import Foundation

/// `DIR/results.json` of `loom demo`: held-out accuracies, the control, chance, and timings.
public struct DemoResults: Codable {
    public var seed: UInt64
    /// Image + typed question → short answer, on held-out scenes (exact match).
    public var imageQAAccuracy: Double
    /// Image + spoken question → short answer, on held-out scenes and utterances.
    public var spokenQAAccuracy: Double
    /// Stage 1 alone: attributes (size, colour, shape, position) its captions get right on held-out images.
    public var captionAttributeAccuracyStage1: Double
    /// The same score for a caption of a random other test scene: what guessing achieves.
    public var chanceCaptionAttributeAccuracy: Double
    /// Stage 1 alone: word accuracy (1 − WER) of transcribing the held-out spoken questions.
    public var transcriptWordAccuracyStage1: Double
    /// Mean over test questions of 1 / (number of answers its kind allows).
    public var chanceImageQAAccuracy: Double
    /// The control: connector outputs replaced by zeros.
    public var controlImageQAAccuracy: Double
    public var controlSpokenQAAccuracy: Double
    /// Accuracy per question kind, of the image questions and of the spoken questions.
    public var imageQAAccuracyByKind: [String: Double]
    public var spokenQAAccuracyByKind: [String: Double]
    public var testImageQuestions: Int
    public var testSpokenQuestions: Int
    public var testCaptions: Int
    /// Training and evaluation (both stages, all evaluations), not data generation.
    public var secondsTotal: Double
    public var secondsData: Double
    public var secondsStage1: Double
    public var secondsStage2: Double
    public var secondsEvaluation: Double
    public var threads: Int
    public var lossCurves: [String]
    public var examples: [Example]

    public struct Example: Codable {
        public var image: String
        public var audio: String?
        public var question: String
        public var answer: String
        public var truth: String
    }

    enum CodingKeys: String, CodingKey {
        case seed, imageQAAccuracy = "image_qa_accuracy", spokenQAAccuracy = "spoken_qa_accuracy"
        case captionAttributeAccuracyStage1 = "caption_attribute_accuracy_stage1"
        case chanceCaptionAttributeAccuracy = "chance_caption_attribute_accuracy"
        case transcriptWordAccuracyStage1 = "transcript_word_accuracy_stage1"
        case chanceImageQAAccuracy = "chance_image_qa_accuracy"
        case controlImageQAAccuracy = "control_image_qa_accuracy", controlSpokenQAAccuracy = "control_spoken_qa_accuracy"
        case imageQAAccuracyByKind = "image_qa_accuracy_by_kind", spokenQAAccuracyByKind = "spoken_qa_accuracy_by_kind"
        case testImageQuestions = "test_image_questions"
        case testSpokenQuestions = "test_spoken_questions", testCaptions = "test_captions"
        case secondsTotal = "seconds_total", secondsData = "seconds_data", secondsStage1 = "seconds_stage1"
        case secondsStage2 = "seconds_stage2", secondsEvaluation = "seconds_evaluation", threads
        case lossCurves = "loss_curves", examples
    }

    /// The table `loom demo` prints and the README shows.
    public var table: String {
        func row(_ name: String, _ value: Double, _ note: String = "") -> String {
            String(format: "| %@ | %.3f | %@ |", name, value, note)
        }
        return ([
            "| metric (held-out test set) | value | |", "|---|---|---|",
            row("image_qa_accuracy", imageQAAccuracy, "chance \(String(format: "%.3f", chanceImageQAAccuracy)), connectors zeroed \(String(format: "%.3f", controlImageQAAccuracy))"),
            row("spoken_qa_accuracy", spokenQAAccuracy, "connectors zeroed \(String(format: "%.3f", controlSpokenQAAccuracy))"),
            row("caption_attribute_accuracy_stage1", captionAttributeAccuracyStage1, "chance \(String(format: "%.3f", chanceCaptionAttributeAccuracy))"),
            row("transcript_word_accuracy_stage1", transcriptWordAccuracyStage1),
        ] + imageQAAccuracyByKind.keys.sorted().map { kind in
            row("accuracy: \(kind) questions (image)", imageQAAccuracyByKind[kind]!,
                spokenQAAccuracyByKind[kind].map { String(format: "spoken %.3f", $0) } ?? "")
        }
          + [String(format: "| seconds (training + evaluation) | %.0f | data generation %.0f s, %d threads |", secondsTotal, secondsData, threads)])
            .joined(separator: "\n")
    }
}
