import LoomImages

/// Rasterises a scene: grey background with per-pixel noise, then each object in list order blended
/// over it by its coverage of a 4×4 grid of subsamples per pixel.
public enum SceneRenderer {
    public static func render(_ scene: Scene) -> RGBImage {
        let side = WorldGeometry.imageSize
        var bytes = [UInt8](repeating: 0, count: side * side * 3)
        // One noise value per pixel, shared by R, G and B, so the background stays grey.
        var noise = WorldRandom(seed: scene.noiseSeed)
        let amplitude = WorldGeometry.backgroundNoise
        for pixel in 0..<(side * side) {
            let level = UInt8(clamping: scene.backgroundLevel + noise.int(in: -amplitude...amplitude))
            bytes[3 * pixel] = level; bytes[3 * pixel + 1] = level; bytes[3 * pixel + 2] = level
        }
        for object in scene.objects { draw(object, into: &bytes, side: side) }
        return RGBImage(width: side, height: side, bytes: bytes)
    }

    /// Blends `object` over the pixels of its bounding box: value = (colour·k + below·(16 − k) + 8) / 16
    /// with k the number of covered subsamples (integer arithmetic, so it is exact everywhere).
    static func draw(_ object: WorldObject, into bytes: inout [UInt8], side: Int) {
        let n = WorldGeometry.supersampling, total = n * n
        let reach = object.radius * 1.1 + 1  // the widest shape (diamond) plus a pixel
        let x0 = max(0, Int((object.centerX - reach).rounded(.down)))
        let x1 = min(side - 1, Int((object.centerX + reach).rounded(.up)))
        let y0 = max(0, Int((object.centerY - reach).rounded(.down)))
        let y1 = min(side - 1, Int((object.centerY + reach).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let colour = object.rgb.map(Int.init)
        for y in y0...y1 {
            for x in x0...x1 {
                var covered = 0
                for sy in 0..<n {
                    let py = Double(y) + (Double(sy) + 0.5) / Double(n)
                    for sx in 0..<n {
                        let px = Double(x) + (Double(sx) + 0.5) / Double(n)
                        if ShapeCoverage.contains(object, x: px, y: py) { covered += 1 }
                    }
                }
                if covered == 0 { continue }
                let i = (y * side + x) * 3
                for c in 0..<3 {
                    let below = Int(bytes[i + c])
                    bytes[i + c] = UInt8((colour[c] * covered + below * (total - covered) + total / 2) / total)
                }
            }
        }
    }
}

/// Whether a point lies inside an object's shape (boundaries included).
public enum ShapeCoverage {
    /// - circle: the disc of radius r
    /// - square: axis-aligned, half-side 0.9·r
    /// - triangle: apex (cx, cy − r), base corners (cx ± r, cy + r)
    /// - diamond: |dx| + |dy| ≤ 1.1·r
    public static func contains(_ object: WorldObject, x: Double, y: Double) -> Bool {
        let dx = x - object.centerX, dy = y - object.centerY, r = object.radius
        switch object.shape {
        case .circle: return dx * dx + dy * dy <= r * r
        case .square: return abs(dx) <= 0.9 * r && abs(dy) <= 0.9 * r
        case .triangle: return dy >= -r && dy <= r && abs(dx) <= (dy + r) / 2
        case .diamond: return abs(dx) + abs(dy) <= 1.1 * r
        }
    }
}
