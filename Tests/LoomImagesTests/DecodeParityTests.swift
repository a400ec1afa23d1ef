import Foundation
import XCTest
@testable import LoomImages

/// Decoded pixels against Pillow's `Image.open(p).convert("RGB")`, file by file.
final class DecodeParityTests: XCTestCase {
    func testEveryFixtureDecodesToPillowsPixels() throws {
        let cases = Fixtures.manifest.decode
        XCTAssertGreaterThan(cases.count, 30)
        var report: [String] = []
        for item in cases {
            let decoded: RGBImage
            do {
                decoded = try ImageDecoder.decode(path: Fixtures.image(item.file))
            } catch {
                XCTFail("\(item.file): \(error)")
                continue
            }
            XCTAssertEqual(decoded.width, item.width, item.file)
            XCTAssertEqual(decoded.height, item.height, item.file)
            guard let expectedName = item.expected else {
                if fnv1a64(decoded.bytes) != item.fnv1a64 {
                    report.append("\(item.file) (Pillow mode \(item.pillow_mode)): differs (checked by hash only)")
                }
                continue
            }
            let expected = try Fixtures.expectedPixels(expectedName, hash: item.fnv1a64)
            let diff = pixelDifference(decoded, expected)
            if diff.count != 0 {
                report.append("\(item.file) (Pillow mode \(item.pillow_mode)): \(diff.count) values differ, "
                              + "max |diff| \(diff.maximum); \(diff.first ?? "")")
            }
        }
        XCTAssertTrue(report.isEmpty, "decode mismatches:\n" + report.joined(separator: "\n"))
    }

    func testFormatComesFromMagicBytesNotTheName() throws {
        let png = try Data(contentsOf: URL(fileURLWithPath: Fixtures.image("rgb8_37x23.png")))
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.image("jpeg420_q90_37x23.jpg")))
        XCTAssertEqual(ImageDecoder.format(of: png), .png)
        XCTAssertEqual(ImageDecoder.format(of: jpeg), .jpeg)
        let fromPNG = try ImageDecoder.decode(data: png, name: "misnamed.jpg")
        let fromJPEG = try ImageDecoder.decode(data: jpeg, name: "misnamed.png")
        XCTAssertEqual(fromPNG, try ImageDecoder.decode(path: Fixtures.image("rgb8_37x23.png")))
        XCTAssertEqual(fromJPEG, try ImageDecoder.decode(path: Fixtures.image("jpeg420_q90_37x23.jpg")))
    }

    func testDecodingFromSeveralThreadsAtOnce() throws {
        let names = ["rgb8_64x48.png", "jpeg_progressive_64x48.jpg", "pal4_trns_23x61.png", "jpeg_cmyk_64x48.jpg"]
        let reference = try names.map { try ImageDecoder.decode(path: Fixtures.image($0)) }
        let lock = NSLock()
        var mismatches = 0
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let k = i % names.count
            let image = try? ImageDecoder.decode(path: Fixtures.image(names[k]))
            // Corrupt files in the mix: their failures must stay on their own thread.
            _ = try? ImageDecoder.decode(path: Fixtures.corrupt("truncated.jpg"))
            if image != reference[k] {
                lock.lock(); mismatches += 1; lock.unlock()
            }
        }
        XCTAssertEqual(mismatches, 0)
    }
}
