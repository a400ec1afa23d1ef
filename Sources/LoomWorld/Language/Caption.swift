/// One-line scene descriptions: objects in reading order (by row, then column), each
/// "a {size} {colour} {shape} at the {vertical} {horizontal}", joined as "X.", "X and Y.", "X, Y and Z.".
public enum Caption {
    public static func text(for scene: Scene) -> String {
        let phrases = scene.objectsInReadingOrder.map(phrase)
        return joined(phrases) + "."
    }

    /// "a large red circle at the top left".
    public static func phrase(_ object: WorldObject) -> String {
        "a \(object.size.rawValue) \(object.colour.rawValue) \(object.shape.rawValue) at the \(object.position)"
    }

    /// "x", "x and y", "x, y and z".
    static func joined(_ parts: [String]) -> String {
        guard let last = parts.last else { return "" }
        if parts.count == 1 { return last }
        return parts.dropLast().joined(separator: ", ") + " and " + last
    }

    /// The prompts a captioning sample may ask with (stage 1 and the test captions).
    public static let imagePrompts = ["describe the picture.", "what is in the image?", "describe the scene."]
    /// The prompt of a text-only captioning sample (pretraining the language model).
    public static let textPrompt = "describe a scene."
    /// The prompt of a transcription sample.
    public static let transcriptionPrompt = "transcribe the question."
    /// The prompt of a text-only copying sample (pretraining the language model).
    public static let repeatPrompt = "repeat the words."
    /// The words a copying sample draws from: the world's attribute, position and question words.
    public static let repeatableWords: [String] =
        Colour.allCases.map(\.rawValue) + Shape.allCases.map(\.rawValue) + Size.allCases.map(\.rawValue)
        + ["top", "bottom", "left", "right", "empty", "a", "the", "is", "there", "what", "colour", "shape", "one", "two", "three"]
}
