/// The seven kinds of question the world asks, in the spec's order.
public enum QuestionKind: String, CaseIterable, Codable, Sendable {
    case colour, shape, count, size, position, existence, relation

    /// Every answer a question of this kind can have (chance accuracy is 1 / their number).
    public var possibleAnswers: [String] {
        switch self {
        case .colour: return Colour.allCases.map(\.rawValue)
        case .shape: return Shape.allCases.map(\.rawValue)
        case .count: return Question.countWords
        case .size: return Size.allCases.map(\.rawValue)
        case .position: return ["top left", "top right", "bottom left", "bottom right"]
        case .existence, .relation: return ["yes", "no"]
        }
    }

    /// The accuracy of a uniform guess among `possibleAnswers`.
    public var chanceAccuracy: Double { 1 / Double(possibleAnswers.count) }
}

/// A spatial relation between two objects, decided on their grid cells.
public enum Relation: String, CaseIterable, Sendable {
    case leftOf = "left of", rightOf = "right of", above, below

    /// Whether the relation can be asked about `a` and `b`: left/right need them in different
    /// halves (one "left", one "right" in the world's words), above/below in different top/bottom
    /// halves. The world's language then decides every relation it asks: a caption's positions answer
    /// it, as the image does.
    public func isDecidable(_ a: WorldObject, _ b: WorldObject) -> Bool {
        switch self {
        case .leftOf, .rightOf: return a.horizontal != b.horizontal
        case .above, .below: return a.vertical != b.vertical
        }
    }

    /// Whether `a` stands in this relation to `b` (smaller row is above, smaller column is left).
    public func holds(_ a: WorldObject, _ b: WorldObject) -> Bool {
        switch self {
        case .leftOf: return a.col < b.col
        case .rightOf: return a.col > b.col
        case .above: return a.row < b.row
        case .below: return a.row > b.row
        }
    }
}

/// A question about a scene with its answer: lowercase, the question ends with "?", the answer has
/// no punctuation and at most two words.
public struct Question: Equatable, Sendable {
    public var kind: QuestionKind
    public var text: String
    public var answer: String

    public init(kind: QuestionKind, text: String, answer: String) {
        self.kind = kind
        self.text = text
        self.answer = answer
    }

    /// Answers of the count question, for 1, 2 and 3 objects.
    public static let countWords = ["one", "two", "three"]
}
