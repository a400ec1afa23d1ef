/// The closed vocabulary of the demo world. Raw values are the words used in captions, questions,
/// answers and JSON; `allCases` order is the order of the spec (and of world.json).

public enum Shape: String, CaseIterable, Codable, Sendable, Comparable {
    case circle, square, triangle, diamond

    public static func < (a: Shape, b: Shape) -> Bool { a.order < b.order }
    var order: Int { Shape.allCases.firstIndex(of: self)! }
}

public enum Colour: String, CaseIterable, Codable, Sendable, Comparable {
    case red, green, blue, yellow, purple, black

    /// The colour before per-object jitter.
    public var baseRGB: (UInt8, UInt8, UInt8) {
        switch self {
        case .red: return (215, 40, 40)
        case .green: return (40, 165, 60)
        case .blue: return (45, 85, 220)
        case .yellow: return (230, 200, 35)
        case .purple: return (140, 60, 190)
        case .black: return (30, 30, 30)
        }
    }

    public static func < (a: Colour, b: Colour) -> Bool { a.order < b.order }
    var order: Int { Colour.allCases.firstIndex(of: self)! }
}

public enum Size: String, CaseIterable, Codable, Sendable, Comparable {
    case small, large

    /// The range the half-extent r is drawn from, in pixels.
    public var radiusRange: ClosedRange<Double> {
        switch self {
        case .small: return 3.5...4.5
        case .large: return 6.0...7.0
        }
    }

    public static func < (a: Size, b: Size) -> Bool { a == .small && b == .large }
}

/// Fixed numbers of the world's geometry and rendering.
public enum WorldGeometry {
    /// Images are `imageSize`×`imageSize` RGB.
    public static let imageSize = 64
    /// A `gridSize`×`gridSize` grid of cells; row 0 is the top, column 0 the left.
    public static let gridSize = 4
    public static let cellSize = 16
    /// The grey level of the background is uniform in this range (same for R, G, B).
    public static let backgroundLevels = 200...235
    /// Per-pixel background noise, a uniform integer in ±`backgroundNoise`.
    public static let backgroundNoise = 6
    /// Each channel of an object's colour is jittered by a uniform integer in ±`colourJitter`.
    public static let colourJitter = 15
    /// An object's centre is at most `cellHalfExtent − r` from its cell's centre.
    public static let cellHalfExtent = 7.5
    /// Subsamples per pixel side (4×4 per pixel).
    public static let supersampling = 4
    /// Objects per scene, uniform.
    public static let objectCounts = 1...3
}
