/// Draws scenes as the spec says: 1–3 objects (uniform), distinct cells (uniform), uniform shape,
/// colour and size with (colour, shape) unique in the scene, a jittered colour, a half-extent r from
/// the size's range and a centre offset of at most 7.5 − r from the cell centre.
public enum SceneSampler {
    public static func scene(_ random: inout WorldRandom) -> Scene {
        let geometry = WorldGeometry.self
        let count = random.int(in: geometry.objectCounts)
        let cellCount = geometry.gridSize * geometry.gridSize
        // Partial Fisher–Yates: the first `count` entries are distinct uniform cells.
        var cells = Array(0..<cellCount)
        for i in 0..<count { cells.swapAt(i, random.int(in: i...(cellCount - 1))) }
        var objects: [WorldObject] = []
        var usedPairs: Set<String> = []
        for i in 0..<count {
            var shape: Shape, colour: Colour
            repeat {
                shape = random.element(of: Shape.allCases)
                colour = random.element(of: Colour.allCases)
            } while usedPairs.contains("\(colour) \(shape)")
            usedPairs.insert("\(colour) \(shape)")
            let size = random.element(of: Size.allCases)
            let radius = random.double(in: size.radiusRange.lowerBound, size.radiusRange.upperBound)
            let row = cells[i] / geometry.gridSize, col = cells[i] % geometry.gridSize
            let slack = geometry.cellHalfExtent - radius
            let half = Double(geometry.cellSize) / 2
            let centerX = Double(col * geometry.cellSize) + half + random.double(in: -slack, slack)
            let centerY = Double(row * geometry.cellSize) + half + random.double(in: -slack, slack)
            let base = colour.baseRGB
            let rgb = [base.0, base.1, base.2].map { channel -> UInt8 in
                let jitter = random.int(in: -geometry.colourJitter...geometry.colourJitter)
                return UInt8(clamping: Int(channel) + jitter)
            }
            objects.append(WorldObject(shape: shape, colour: colour, size: size, row: row, col: col,
                                       centerX: centerX, centerY: centerY, radius: radius, rgb: rgb))
        }
        let level = random.int(in: geometry.backgroundLevels)
        return Scene(objects: objects, backgroundLevel: level, noiseSeed: random.next())
    }
}

/// Scenes drawn while refusing some signatures, and optionally repeats.
///
/// The test split's scenes are drawn first, distinct by signature; every other scene is redrawn while
/// its signature is one of the test split's, so no test scene is ever seen in training.
struct ScenePool {
    /// Signatures that must not be drawn.
    var excluded: Set<[ObjectKey]>
    /// Also add every drawn signature to `excluded` (distinct scenes).
    var isDistinct: Bool
    /// Draw held-out scenes only (the test split), or never (every other split).
    var heldOut: Bool

    /// Redraws allowed per scene before giving up (only reachable with impossible requests).
    static let maxAttempts = 10_000

    /// The next scene of the pool with at least `minObjects` shapes.
    mutating func next(_ random: inout WorldRandom, minObjects: Int = 1) throws -> Scene {
        for _ in 0..<ScenePool.maxAttempts {
            let scene = SceneSampler.scene(&random)
            let signature = scene.signature
            if scene.objects.count < minObjects || scene.isHeldOut != heldOut || excluded.contains(signature) { continue }
            if isDistinct { excluded.insert(signature) }
            return scene
        }
        throw WorldError("could not draw a scene outside \(excluded.count) excluded signatures in "
                         + "\(ScenePool.maxAttempts) attempts (are the test counts too large?)")
    }
}
