/// One shape drawn in a scene: its words (shape, colour, size, cell) and its exact geometry.
public struct WorldObject: Equatable, Sendable {
    public var shape: Shape
    public var colour: Colour
    public var size: Size
    /// Grid cell: row 0 is the top, column 0 the left.
    public var row: Int
    public var col: Int
    /// Centre in pixels (x to the right, y down; pixel (x, y) covers [x, x+1) × [y, y+1)).
    public var centerX: Double
    public var centerY: Double
    /// Half-extent r in pixels (see `ShapeCoverage` for what it means per shape).
    public var radius: Double
    /// The colour after jitter.
    public var rgb: [UInt8]

    public init(shape: Shape, colour: Colour, size: Size, row: Int, col: Int,
                centerX: Double, centerY: Double, radius: Double, rgb: [UInt8]) {
        self.shape = shape
        self.colour = colour
        self.size = size
        self.row = row
        self.col = col
        self.centerX = centerX
        self.centerY = centerY
        self.radius = radius
        self.rgb = rgb
    }

    /// "top" for rows 0–1, "bottom" for rows 2–3.
    public var vertical: String { row < WorldGeometry.gridSize / 2 ? "top" : "bottom" }
    /// "left" for columns 0–1, "right" for columns 2–3.
    public var horizontal: String { col < WorldGeometry.gridSize / 2 ? "left" : "right" }
    /// "top left", "bottom right", ...
    public var position: String { "\(vertical) \(horizontal)" }
    /// "red circle": unique within a scene, so it names the object.
    public var name: String { "\(colour.rawValue) \(shape.rawValue)" }

    /// The words of the object, the unit of a scene's signature.
    public var key: ObjectKey { ObjectKey(row: row, col: col, shape: shape, colour: colour, size: size) }
}

/// What a caption can say about an object: cell, shape, colour and size (no jitter, no offsets).
public struct ObjectKey: Hashable, Comparable, Sendable {
    public var row: Int, col: Int
    public var shape: Shape, colour: Colour, size: Size

    public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
        (a.row, a.col, a.shape.order, a.colour.order, a.size == .large ? 1 : 0)
            < (b.row, b.col, b.shape.order, b.colour.order, b.size == .large ? 1 : 0)
    }
}

/// A scene: 1–3 objects in distinct cells over a noisy grey background. Everything needed to render
/// it is here, so rendering is a pure function of the scene (and can run on any thread).
public struct Scene: Equatable, Sendable {
    /// Objects in drawing order.
    public var objects: [WorldObject]
    /// Grey level of the background before noise.
    public var backgroundLevel: Int
    /// Seeds the per-pixel background noise.
    public var noiseSeed: UInt64

    public init(objects: [WorldObject], backgroundLevel: Int, noiseSeed: UInt64) {
        self.objects = objects
        self.backgroundLevel = backgroundLevel
        self.noiseSeed = noiseSeed
    }

    /// The sorted list of (row, col, shape, colour, size): two scenes with the same signature are the
    /// same scene for the purpose of holding scenes out.
    public var signature: [ObjectKey] { objects.map(\.key).sorted() }

    /// Whether the scene belongs to the held-out test world: one signature in `heldOutModulus`, chosen
    /// by a fixed hash of the signature's words, so the same scenes are held out whatever the seed —
    /// no seed's training or pretraining data contains a scene that another seed's test set shows.
    public var isHeldOut: Bool { Scene.heldOutHash(signature) % Scene.heldOutModulus == 0 }

    public static let heldOutModulus: UInt64 = 8

    /// FNV-1a over "row,col,shape,colour,size;" of each object in signature order.
    static func heldOutHash(_ signature: [ObjectKey]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for key in signature {
            for byte in "\(key.row),\(key.col),\(key.shape.rawValue),\(key.colour.rawValue),\(key.size.rawValue);".utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return hash
    }

    /// Objects sorted by (row, col), the order captions list them in.
    public var objectsInReadingOrder: [WorldObject] {
        objects.sorted { ($0.row, $0.col) < ($1.row, $1.col) }
    }
}
