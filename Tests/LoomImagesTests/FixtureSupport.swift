import Foundation
import XCTest
@testable import LoomImages

/// The fixtures written by tools/fixtures/make_image_fixtures.py, and helpers to compare against them.
enum Fixtures {
    static let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func image(_ name: String) -> String { root.appendingPathComponent("images/\(name)").path }
    static func corrupt(_ name: String) -> String { root.appendingPathComponent("images/corrupt/\(name)").path }
    static func expected(_ name: String) -> String { root.appendingPathComponent("expected/\(name)").path }
    static func config(_ name: String) -> URL { root.appendingPathComponent("configs/\(name)") }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: root.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    /// An expected-pixels PNG, checked against the hash the fixture script took of the array itself,
    /// so a decoder bug cannot make the expectation agree with it.
    static func expectedPixels(_ name: String, hash: String, file: StaticString = #filePath,
                               line: UInt = #line) throws -> RGBImage {
        let image = try ImageDecoder.decode(path: expected(name))
        XCTAssertEqual(fnv1a64(image.bytes), hash, "expected/\(name) does not hold the array it was made from",
                       file: file, line: line)
        return image
    }
}

struct Manifest: Decodable {
    struct Decode: Decodable {
        let file: String
        let pillow_mode: String
        let width: Int
        let height: Int
        /// Nil for large images, which are checked by hash only.
        let expected: String?
        let fnv1a64: String
    }
    struct Resize: Decodable {
        let file: String
        let width: Int
        let height: Int
        let resample: Int
        let pass_order: String
        let expected: String
        let fnv1a64: String
    }
    struct ProcessorConfig: Decodable {
        let file: String
        let processor_class: String
        let value_table_bits: [[UInt32]]
    }
    struct ProcessorCase: Decodable {
        let config: String
        let file: String
        let pad_to_square: Bool
        let shape: [Int]
        let expected: String
        let indices_fnv1a64: String
        let float32_fnv1a64: String
    }
    struct Processor: Decodable {
        let configs: [String: ProcessorConfig]
        let cases: [ProcessorCase]
    }
    let decode: [Decode]
    let corrupt: [String]
    let resize: [Resize]
    let processor: Processor
}

/// FNV-1a 64 as lowercase hex (the fixture script computes the same).
func fnv1a64<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// Where two equally sized RGB images differ: count and the largest difference, for messages.
func pixelDifference(_ a: RGBImage, _ b: RGBImage) -> (count: Int, maximum: Int, first: String?) {
    guard a.width == b.width, a.height == b.height else {
        return (-1, -1, "size \(a.width)x\(a.height) vs \(b.width)x\(b.height)")
    }
    var count = 0, maximum = 0
    var first: String?
    for i in 0..<a.bytes.count where a.bytes[i] != b.bytes[i] {
        count += 1
        let d = abs(Int(a.bytes[i]) - Int(b.bytes[i]))
        maximum = max(maximum, d)
        if first == nil {
            let pixel = i / 3
            first = "first at x=\(pixel % a.width) y=\(pixel / a.width) channel \(i % 3): "
                + "\(a.bytes[i]) vs \(b.bytes[i])"
        }
    }
    return (count, maximum, first)
}
