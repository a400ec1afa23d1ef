import Foundation
import XCTest
@testable import LoomImages

/// Damaged files throw an error naming the file; nothing crashes, also when it happens often.
final class CorruptFileTests: XCTestCase {
    func testEveryCorruptFixtureThrowsNamingTheFile() {
        XCTAssertEqual(Fixtures.manifest.corrupt.count, 9)
        for name in Fixtures.manifest.corrupt {
            let path = Fixtures.corrupt(name)
            XCTAssertThrowsError(try ImageDecoder.decode(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(path), "\(name): message does not name the file: \(message)")
            }
        }
    }

    func testMessagesSayWhatWentWrong() throws {
        func message(_ name: String) -> String {
            do {
                _ = try ImageDecoder.decode(path: Fixtures.corrupt(name))
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message("truncated.jpg").contains("truncated"), message("truncated.jpg"))
        XCTAssertTrue(message("truncated_in_idat.png").contains("truncated"), message("truncated_in_idat.png"))
        XCTAssertTrue(message("bad_ihdr_crc.png").contains("CRC"), message("bad_ihdr_crc.png"))
        XCTAssertTrue(message("empty.png").contains("empty"), message("empty.png"))
        XCTAssertTrue(message("not_an_image.png").contains("not a PNG or JPEG"), message("not_an_image.png"))
        XCTAssertTrue(message("bad_sof.jpg").contains("corrupt or unsupported JPEG"), message("bad_sof.jpg"))
        XCTAssertThrowsError(try ImageDecoder.decode(path: Fixtures.corrupt("no_such_file.png"))) { error in
            XCTAssertTrue("\(error)".contains("no_such_file.png"))
        }
    }

    /// Every fatal libpng/libjpeg error ends a contained thread; many in a row must neither crash nor
    /// leave anything behind that grows.
    func testRepeatedFailuresStayContained() throws {
        let data = try Fixtures.manifest.corrupt.map {
            ($0, try Data(contentsOf: URL(fileURLWithPath: Fixtures.corrupt($0))))
        }
        for round in 0..<50 {
            for (name, bytes) in data {
                XCTAssertThrowsError(try ImageDecoder.decode(data: bytes, name: "\(round)/\(name)"))
            }
        }
        // And decoding still works afterwards.
        XCTAssertNoThrow(try ImageDecoder.decode(path: Fixtures.image("rgb8_64x48.png")))
    }

    func testEveryPrefixOfAFileEitherDecodesOrThrows() throws {
        for name in ["rgb8_interlaced_37x23.png", "jpeg_progressive_64x48.jpg"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.image(name)))
            let full = try ImageDecoder.decode(data: bytes, name: name)
            for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
                if let image = try? ImageDecoder.decode(data: bytes.prefix(length), name: name) {
                    XCTAssertEqual(image.width, full.width, "\(name) prefix \(length)")
                }
            }
        }
    }
}
