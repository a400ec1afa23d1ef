/// Asks questions whose referent is unambiguous in the scene. The kind is uniform among the kinds the
/// scene allows; yes/no kinds alternate their answer (starting at random), so a run of questions is
/// balanced 50/50 to within one per kind.
public struct QuestionGenerator: Sendable {
    private var nextExistenceIsYes: Bool
    private var nextRelationIsYes: Bool

    public init(random: inout WorldRandom) {
        nextExistenceIsYes = random.coin()
        nextRelationIsYes = random.coin()
    }

    /// The kinds that can be asked of `scene`: colour needs a shape that occurs once, shape a colour
    /// that occurs once, relation two objects in different halves (left/right or top/bottom).
    public static func possibleKinds(for scene: Scene) -> [QuestionKind] {
        QuestionKind.allCases.filter { kind in
            switch kind {
            case .colour: return !objectsWithUniqueShape(scene).isEmpty
            case .shape: return !objectsWithUniqueColour(scene).isEmpty
            case .relation: return hasRelatedPair(scene)
            case .count, .size, .position, .existence: return true
            }
        }
    }

    public mutating func question(for scene: Scene, random: inout WorldRandom) -> Question {
        let kind = random.element(of: QuestionGenerator.possibleKinds(for: scene))
        return question(kind, for: scene, random: &random)
    }

    /// A question of `kind`, which must be one of `possibleKinds(for: scene)`.
    public mutating func question(_ kind: QuestionKind, for scene: Scene, random: inout WorldRandom) -> Question {
        let objects = scene.objects
        switch kind {
        case .colour:
            let object = random.element(of: QuestionGenerator.objectsWithUniqueShape(scene))
            return Question(kind: kind, text: "what colour is the \(object.shape.rawValue)?", answer: object.colour.rawValue)
        case .shape:
            let object = random.element(of: QuestionGenerator.objectsWithUniqueColour(scene))
            return Question(kind: kind, text: "what shape is the \(object.colour.rawValue) object?", answer: object.shape.rawValue)
        case .count:
            return Question(kind: kind, text: "how many shapes are there?", answer: Question.countWords[objects.count - 1])
        case .size:
            let object = random.element(of: objects)
            return Question(kind: kind, text: "is the \(object.name) small or large?", answer: object.size.rawValue)
        case .position:
            let object = random.element(of: objects)
            return Question(kind: kind, text: "where is the \(object.name)?", answer: object.position)
        case .existence:
            return existence(scene, random: &random)
        case .relation:
            return relation(scene, random: &random)
        }
    }

    /// "is there a {colour} {shape}?": yes names a present object; no names an absent pair that, half
    /// of the time, shares its colour or its shape with a present object (and otherwise shares neither).
    private mutating func existence(_ scene: Scene, random: inout WorldRandom) -> Question {
        let isYes = nextExistenceIsYes
        nextExistenceIsYes.toggle()
        let name: String
        if isYes {
            name = random.element(of: scene.objects).name
        } else {
            let present = Set(scene.objects.map(\.name))
            let colours = Set(scene.objects.map(\.colour)), shapes = Set(scene.objects.map(\.shape))
            let sharesOne = random.coin()
            var candidates: [String] = []
            for colour in Colour.allCases {
                for shape in Shape.allCases {
                    let pair = "\(colour.rawValue) \(shape.rawValue)"
                    if present.contains(pair) { continue }
                    if (colours.contains(colour) || shapes.contains(shape)) == sharesOne { candidates.append(pair) }
                }
            }
            // Both lists are never empty: a scene uses at most 3 of 6 colours and 3 of 4 shapes.
            name = random.element(of: candidates)
        }
        return Question(kind: .existence, text: "is there a \(name)?", answer: isYes ? "yes" : "no")
    }

    /// "is the A {relation} the B?" over ordered pairs in different left/right halves (left of, right
    /// of) or top/bottom halves (above, below), uniform among those with the wanted answer.
    private mutating func relation(_ scene: Scene, random: inout WorldRandom) -> Question {
        let isYes = nextRelationIsYes
        nextRelationIsYes.toggle()
        var candidates: [(WorldObject, Relation, WorldObject)] = []
        for a in scene.objects {
            for b in scene.objects where a.name != b.name {
                for relation in Relation.allCases where relation.isDecidable(a, b) && relation.holds(a, b) == isYes {
                    candidates.append((a, relation, b))
                }
            }
        }
        // A decidable pair exists (possibleKinds), and the converse relation flips the answer, so both
        // answers always have candidates.
        let (a, relation, b) = random.element(of: candidates)
        return Question(kind: .relation, text: "is the \(a.name) \(relation.rawValue) the \(b.name)?",
                        answer: isYes ? "yes" : "no")
    }

    /// Two objects in different halves, horizontally or vertically.
    static func hasRelatedPair(_ scene: Scene) -> Bool {
        scene.objects.contains { a in scene.objects.contains { b in Relation.allCases.contains { $0.isDecidable(a, b) } } }
    }

    static func objectsWithUniqueShape(_ scene: Scene) -> [WorldObject] {
        scene.objects.filter { object in scene.objects.filter { $0.shape == object.shape }.count == 1 }
    }

    static func objectsWithUniqueColour(_ scene: Scene) -> [WorldObject] {
        scene.objects.filter { object in scene.objects.filter { $0.colour == object.colour }.count == 1 }
    }
}
