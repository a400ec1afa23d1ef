import Foundation
import LoomTraining

/// How the demo scores answers and captions against the world's truth.
public enum DemoScoring {
    /// An answer as compared: Loom's evaluation words (lowercase, punctuation stripped), space-joined.
    public static func normalized(_ text: String) -> String {
        TaskMetrics.words(text).joined(separator: " ")
    }

    /// The fraction correct of each question kind among `answers` (kind, correct).
    public static func accuracyByKind(_ answers: [(kind: String, correct: Bool)]) -> [String: Double] {
        Dictionary(grouping: answers, by: \.kind).mapValues { Double($0.filter(\.correct).count) / Double($0.count) }
    }

    /// One object of a caption: "a {size} {colour} {shape} at the {vertical} {horizontal}".
    public struct Described: Equatable, Hashable {
        public var size: String, colour: String, shape: String, position: String
        public init(size: String, colour: String, shape: String, position: String) {
            (self.size, self.colour, self.shape, self.position) = (size, colour, shape, position)
        }
    }

    /// The objects a caption describes, in order; phrases that do not parse are skipped.
    public static func objects(inCaption caption: String) -> [Described] {
        let words = TaskMetrics.words(caption)
        var result: [Described] = []
        var i = 0
        while i + 7 < words.count {
            // a SIZE COLOUR SHAPE at the VERTICAL HORIZONTAL
            if words[i] == "a", words[i + 4] == "at", words[i + 5] == "the" {
                result.append(Described(size: words[i + 1], colour: words[i + 2], shape: words[i + 3],
                                        position: words[i + 6] + " " + words[i + 7]))
                i += 8
            } else {
                i += 1
            }
        }
        return result
    }

    /// Attribute accuracy of a caption: for each attribute (size, colour, shape, position) the
    /// multiset overlap of predicted and true values over the larger of the two counts, averaged over
    /// the four attributes. 1 for a perfect caption; extra or missing objects cost.
    public static func attributeAccuracy(predicted: [Described], truth: [Described]) -> Double {
        let attributes: [(Described) -> String] = [{ $0.size }, { $0.colour }, { $0.shape }, { $0.position }]
        var total = 0.0
        for attribute in attributes {
            var remaining = Dictionary(truth.map { (attribute($0), 1) }, uniquingKeysWith: +)
            var overlap = 0
            for value in predicted.map(attribute) where (remaining[value] ?? 0) > 0 {
                remaining[value]! -= 1
                overlap += 1
            }
            total += Double(overlap) / Double(max(predicted.count, truth.count, 1))
        }
        return total / Double(attributes.count)
    }

    /// Word accuracy of a transcript: 1 − word error rate, floored at 0.
    public static func wordAccuracy(_ prediction: String, _ reference: String) -> Double {
        max(0, 1 - TaskMetrics.wordErrorRate(predictions: [prediction], references: [reference]))
    }
}
