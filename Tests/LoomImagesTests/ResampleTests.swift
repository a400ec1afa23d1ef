import Foundation
import XCTest
@testable import LoomImages

/// The resampler alone against `PIL.Image.resize`, for all five filters and one-pass/two-pass cases.
final class ResampleTests: XCTestCase {
    func testResizeMatchesPillowBitForBit() throws {
        var report: [String] = []
        for item in Fixtures.manifest.resize {
            let source = try ImageDecoder.decode(path: Fixtures.image(item.file))
            let expected = try Fixtures.expectedPixels(item.expected, hash: item.fnv1a64)
            let filter = try XCTUnwrap(ResampleFilter(rawValue: item.resample))
            let order: ResamplePassOrder = item.pass_order == "pillow13" ? .pillow13 : .horizontalFirst
            XCTAssertTrue(["pillow13", "horizontal_first"].contains(item.pass_order), item.pass_order)
            let output = resized(source, width: item.width, height: item.height, filter: filter, passOrder: order)
            let diff = pixelDifference(output, expected)
            if diff.count != 0 {
                report.append("\(item.file) -> \(item.width)x\(item.height) \(filter) \(order): \(diff.count) values differ, "
                              + "max |diff| \(diff.maximum); \(diff.first ?? "")")
            }
        }
        XCTAssertTrue(report.isEmpty, "resize mismatches:\n" + report.joined(separator: "\n"))
    }

    func testPassOrderRuleOfPillow13() {
        let order = ResamplePassOrder.pillow13
        XCTAssertTrue(order.isVerticalFirst(from: (37, 23), to: (70, 11)))     // width grows, height shrinks
        XCTAssertTrue(order.isVerticalFirst(from: (64, 48), to: (64, 20)))     // height only
        XCTAssertFalse(order.isVerticalFirst(from: (64, 64), to: (33, 2)))     // 62 == 2 * 31: horizontal
        XCTAssertTrue(order.isVerticalFirst(from: (64, 64), to: (34, 2)))      // 62 > 2 * 30
        XCTAssertFalse(order.isVerticalFirst(from: (40, 60), to: (97, 61)))    // height grows
        XCTAssertTrue(order.isVerticalFirst(from: (240, 530), to: (224, 494))) // tall shortest-edge downscale
        XCTAssertFalse(ResamplePassOrder.horizontalFirst.isVerticalFirst(from: (37, 23), to: (70, 11)))
    }

    func testSameSizeIsACopy() throws {
        let image = try ImageDecoder.decode(path: Fixtures.image("rgb8_37x23.png"))
        XCTAssertEqual(resized(image, width: 37, height: 23, filter: .bicubic), image)
    }

    func testCoefficientsSumToOneInFixedPoint() {
        for (input, output) in [(64, 91), (300, 41), (23, 224), (389, 224)] {
            let c = ResampleCoefficients(inputSize: input, outputSize: output, filter: .bicubic)
            for i in 0..<output {
                let sum = (0..<c.count[i]).reduce(0) { $0 + Int(c.weights[i * c.stride + $1]) }
                XCTAssertLessThanOrEqual(abs(sum - (1 << 22)), c.count[i], "\(input)->\(output) at \(i)")
            }
        }
    }
}
