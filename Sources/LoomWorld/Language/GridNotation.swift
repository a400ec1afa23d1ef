/// The world's grid notation: a scene written cell by cell, the 16 cells in reading order (row by
/// row, left to right), three words per cell: size, colour and shape ("large red circle"), or
/// "empty empty empty" for a cell without a shape. Always 48 words, separated by spaces.
///
/// The language model learns to read scenes in this form during pretraining. It gives every image
/// patch of the demo vision tower (patch 16 on a 64-pixel image: one patch per cell) a fixed place in
/// the language model's input, three token slots wide, so a connector that emits three tokens per
/// patch has a definite target: the embeddings of its cell's words. This plays the part that CLIP's
/// image–text pretraining plays for LLaVA. The words are the captions' own, so what the model learns
/// about "red" or "circle" in one form serves the other.
public enum GridNotation {
    public static let emptyCell = "empty"
    /// Words per cell.
    public static let wordsPerCell = 3

    /// "large red circle".
    public static func words(_ object: WorldObject) -> [String] {
        [object.size.rawValue, object.colour.rawValue, object.shape.rawValue]
    }

    /// The 48 words of `scene`, space-separated.
    public static func text(for scene: Scene) -> String {
        let size = WorldGeometry.gridSize
        var cells = Array(repeating: Array(repeating: emptyCell, count: wordsPerCell), count: size * size)
        for object in scene.objects { cells[object.row * size + object.col] = words(object) }
        return cells.flatMap { $0 }.joined(separator: " ")
    }

    /// Every word the notation uses.
    public static var vocabulary: [String] {
        [emptyCell] + Size.allCases.map(\.rawValue) + Colour.allCases.map(\.rawValue) + Shape.allCases.map(\.rawValue)
    }
}
