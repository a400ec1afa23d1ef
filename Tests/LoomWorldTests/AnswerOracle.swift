import XCTest
@testable import LoomWorld

/// Re-derives a question's answer from a scene's objects, written apart from `QuestionGenerator`:
/// it parses the question's words and checks that the referent is unambiguous. Returns nil (and the
/// reason) when the question cannot be answered from the scene.
enum AnswerOracle {
    struct Item { var shape: String, colour: String, size: String, row: Int, col: Int }

    static func items(_ scene: Scene) -> [Item] {
        scene.objects.map { Item(shape: $0.shape.rawValue, colour: $0.colour.rawValue, size: $0.size.rawValue,
                                 row: $0.row, col: $0.col) }
    }

    static func answer(_ question: String, items: [Item]) -> Result<String, Failure> {
        guard question.hasSuffix("?"), question == question.lowercased() else { return .failure(Failure("format")) }
        let words = question.dropLast().split(separator: " ").map(String.init)
        func only(_ matches: [Item], _ what: String) -> Result<Item, Failure> {
            matches.count == 1 ? .success(matches[0]) : .failure(Failure("\(matches.count) objects match \(what)"))
        }
        func named(_ colour: String, _ shape: String) -> Result<Item, Failure> {
            only(items.filter { $0.colour == colour && $0.shape == shape }, "\(colour) \(shape)")
        }
        func place(_ item: Item) -> String { (item.row <= 1 ? "top" : "bottom") + " " + (item.col <= 1 ? "left" : "right") }

        switch words.count {
        case 5 where words[0...3] == ["what", "colour", "is", "the"]:
            return only(items.filter { $0.shape == words[4] }, words[4]).map(\.colour)
        case 6 where words[0...3] == ["what", "shape", "is", "the"] && words[5] == "object":
            return only(items.filter { $0.colour == words[4] }, words[4]).map(\.shape)
        case 5 where words == ["how", "many", "shapes", "are", "there"]:
            return .success(["zero", "one", "two", "three"][items.count])
        case 7 where words[0...1] == ["is", "the"] && words[4...6] == ["small", "or", "large"]:
            return named(words[2], words[3]).map(\.size)
        case 5 where words[0...2] == ["where", "is", "the"]:
            return named(words[3], words[4]).map(place)
        case 5 where words[0...2] == ["is", "there", "a"]:
            return .success(items.contains { $0.colour == words[3] && $0.shape == words[4] } ? "yes" : "no")
        case 8, 9:
            guard words[0...1] == ["is", "the"], words[words.count - 3] == "the" else { break }
            let relation = words[4..<(words.count - 3)].joined(separator: " ")
            let first = named(words[2], words[3]), second = named(words[words.count - 2], words[words.count - 1])
            guard case .success(let a) = first, case .success(let b) = second else { return .failure(Failure("referent")) }
            switch relation {
            // Only asked across halves: the words "left"/"right", "top"/"bottom" of the two differ.
            case "left of": return (a.col <= 1) == (b.col <= 1) ? .failure(Failure("same half")) : .success(a.col < b.col ? "yes" : "no")
            case "right of": return (a.col <= 1) == (b.col <= 1) ? .failure(Failure("same half")) : .success(a.col > b.col ? "yes" : "no")
            case "above": return (a.row <= 1) == (b.row <= 1) ? .failure(Failure("same half")) : .success(a.row < b.row ? "yes" : "no")
            case "below": return (a.row <= 1) == (b.row <= 1) ? .failure(Failure("same half")) : .success(a.row > b.row ? "yes" : "no")
            default: break
            }
        default: break
        }
        return .failure(Failure("unrecognised question"))
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
