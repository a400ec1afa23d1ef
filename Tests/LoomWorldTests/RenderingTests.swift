import LoomImages
import XCTest
@testable import LoomWorld

final class RenderingTests: XCTestCase {
    func testPNGDecodesToTheRenderedPixels() throws {
        for scene in sampleScenes(20, seed: 21) {
            let image = SceneRenderer.render(scene)
            XCTAssertEqual(image.width, 64)
            XCTAssertEqual(image.height, 64)
            let png = try PNGEncoder.encode(image)
            XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            XCTAssertEqual(try ImageDecoder.decode(data: png, name: "scene.png"), image)
            XCTAssertEqual(try PNGEncoder.encode(SceneRenderer.render(scene)), png, "same scene, same bytes")
        }
    }

    func testObjectsCoverTheirCentresAndLeaveTheBackgroundGrey() {
        for scene in sampleScenes(200, seed: 22) {
            let image = SceneRenderer.render(scene)
            var covered = Set<Int>()
            for object in scene.objects {
                // The pixel holding the centre is fully inside every shape (r ≥ 3.5).
                let x = Int(object.centerX), y = Int(object.centerY)
                let (r, g, b) = image[x, y]
                XCTAssertEqual([r, g, b], object.rgb, "\(object.shape) at \(x),\(y)")
                // Mark the cell's pixels as possibly touched.
                for yy in max(0, object.row * 16 - 1)..<min(64, object.row * 16 + 17) {
                    for xx in max(0, object.col * 16 - 1)..<min(64, object.col * 16 + 17) { covered.insert(yy * 64 + xx) }
                }
            }
            for pixel in 0..<(64 * 64) where !covered.contains(pixel) {
                let (r, g, b) = image[pixel % 64, pixel / 64]
                XCTAssert(r == g && g == b, "background is grey")
                XCTAssertLessThanOrEqual(abs(Int(r) - scene.backgroundLevel), 6)
            }
        }
    }

    func testCoverageBlendsEdgesAndShapesDiffer() {
        func render(_ shape: Shape) -> RGBImage {
            let object = WorldObject(shape: shape, colour: .black, size: .large, row: 1, col: 1,
                                     centerX: 24, centerY: 24, radius: 6.5, rgb: [0, 0, 0])
            return SceneRenderer.render(Scene(objects: [object], backgroundLevel: 220, noiseSeed: 1))
        }
        var inked: [Shape: Int] = [:]
        for shape in Shape.allCases {
            let image = render(shape)
            var total = 0, partial = 0
            for y in 0..<64 {
                for x in 0..<64 {
                    let v = Int(image[x, y].0)
                    total += 255 - v
                    if v > 0 && v < 190 { partial += 1 }
                }
            }
            inked[shape] = total
            XCTAssertGreaterThan(partial, 0, "\(shape): anti-aliased edge pixels")
        }
        // Areas: square (1.8r)² = 3.24r², circle πr² ≈ 3.14r², diamond 2(1.1r)² = 2.42r², triangle 2r².
        XCTAssertGreaterThan(inked[.circle]!, inked[.diamond]!)
        XCTAssertGreaterThan(inked[.diamond]!, inked[.triangle]!)
        // The triangle's apex points up: its top half is thinner than its bottom half.
        let triangle = render(.triangle)
        let top = (18..<24).map { y in (0..<64).filter { triangle[$0, y].0 < 100 }.count }.reduce(0, +)
        let bottom = (24..<30).map { y in (0..<64).filter { triangle[$0, y].0 < 100 }.count }.reduce(0, +)
        XCTAssertLessThan(top, bottom)
    }

    func testShapeCoverageGeometry() {
        let base = WorldObject(shape: .circle, colour: .red, size: .large, row: 0, col: 0,
                               centerX: 8, centerY: 8, radius: 6, rgb: [0, 0, 0])
        var o = base
        XCTAssertTrue(ShapeCoverage.contains(o, x: 14, y: 8))
        XCTAssertFalse(ShapeCoverage.contains(o, x: 12.3, y: 12.3))
        o.shape = .square
        XCTAssertTrue(ShapeCoverage.contains(o, x: 13.3, y: 2.7))
        XCTAssertFalse(ShapeCoverage.contains(o, x: 13.5, y: 8))
        o.shape = .triangle
        XCTAssertTrue(ShapeCoverage.contains(o, x: 8, y: 2.1))   // near the apex
        XCTAssertFalse(ShapeCoverage.contains(o, x: 9, y: 2.1))
        XCTAssertTrue(ShapeCoverage.contains(o, x: 13.9, y: 13.9)) // near a base corner
        o.shape = .diamond
        XCTAssertTrue(ShapeCoverage.contains(o, x: 14.5, y: 8))  // 1.1·r reaches 14.6
        XCTAssertFalse(ShapeCoverage.contains(o, x: 12, y: 12))
    }
}
