import Foundation
import XCTest
import LoomTensor
@testable import LoomImages

/// pixel_values against transformers' PIL-backend CLIPImageProcessor (with LLaVA's expand2square).
final class CLIPImageProcessorTests: XCTestCase {
    func testPixelValuesMatchTransformers() throws {
        var allDiffs: [Float] = []
        var report: [String] = []
        for item in Fixtures.manifest.processor.cases {
            let configInfo = try XCTUnwrap(Fixtures.manifest.processor.configs[item.config])
            XCTAssertTrue(configInfo.processor_class.hasPrefix("CLIPImageProcessor"))
            let processor = try CLIPImageProcessor(preprocessorConfig: Fixtures.config(configInfo.file))
            let table = configInfo.value_table_bits.map { $0.map(Float.init(bitPattern:)) }
            let indices = try Fixtures.expectedPixels(item.expected, hash: item.indices_fnv1a64)

            let output = try processor.process(path: Fixtures.image(item.file), padToSquare: item.pad_to_square)
            XCTAssertEqual(output.shape, item.shape, "\(item.config) \(item.file)")
            guard output.shape == item.shape else { continue }
            let values = output.scalars
            let plane = indices.width * indices.height
            var maxDiff: Float = 0
            var diffs = [Float](repeating: 0, count: values.count)
            for c in 0..<3 {
                for i in 0..<plane {
                    let expected = table[c][Int(indices.bytes[3 * i + c])]
                    let d = abs(values[c * plane + i] - expected)
                    diffs[c * plane + i] = d
                    maxDiff = max(maxDiff, d)
                }
            }
            allDiffs += diffs
            let bytes = values.withUnsafeBytes { Array($0) }
            let exact = fnv1a64(bytes) == item.float32_fnv1a64
            let stats = Self.statistics(diffs)
            let line = "\(item.config) \(item.file) pad=\(item.pad_to_square): max \(maxDiff) mean \(stats.mean) "
                + "p99 \(stats.p99) bit-exact \(exact)"
            report.append(line)
            XCTAssertLessThanOrEqual(stats.mean, 2e-3, line)
            XCTAssertLessThanOrEqual(stats.p99, 2e-2, line)
            XCTAssertTrue(exact, line)  // the aim: the float32 bytes transformers produced
        }
        let total = Self.statistics(allDiffs)
        print("pixel_values vs transformers CLIPImageProcessorPil:\n  " + report.joined(separator: "\n  ")
              + "\n  overall: max \(allDiffs.max() ?? 0) mean \(total.mean) p99 \(total.p99)")
    }

    static func statistics(_ values: [Float]) -> (mean: Float, p99: Float) {
        guard !values.isEmpty else { return (0, 0) }
        let sorted = values.sorted()
        let mean = Float(values.reduce(0.0) { $0 + Double($1) } / Double(values.count))
        return (mean, sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }

    /// Pillow 12 and 13 resize a tall image (> 2:1) differently: the pass order changed.
    func testTallDownscaleDependsOnPassOrder() throws {
        let image = try ImageDecoder.decode(path: Fixtures.image("jpeg420_q90_240x530.jpg"))
        var legacy = CLIPImageProcessor()
        legacy.passOrder = .horizontalFirst
        let current = CLIPImageProcessor().preparedPixels(image)
        let older = legacy.preparedPixels(image)
        let diff = pixelDifference(current, older)
        print("240x530 -> 224: Pillow 13 vs Pillow <= 12 pass order: \(diff.count) of \(older.bytes.count) values "
              + "differ, max |diff| \(diff.maximum)")
        XCTAssertGreaterThan(diff.count, 0)  // 6546 of 150528, max 11 (at hard edges, where clipping differs)
    }

    func testShortestEdgeSizesFollowTransformersRounding() {
        let p224 = CLIPImageProcessor()
        XCTAssertTrue(p224.outputSize(height: 23, width: 37) == (224, 360))  // int(224 * 37 / 23) = 360
        XCTAssertTrue(p224.outputSize(height: 61, width: 23) == (594, 224))  // int(594.08...) = 594
        XCTAssertTrue(p224.outputSize(height: 389, width: 517) == (224, 297))
        XCTAssertTrue(p224.outputSize(height: 100, width: 100) == (224, 224))
        var config = PreprocessorConfig()
        config.size = .shortestEdge(336)
        XCTAssertTrue(CLIPImageProcessor(config: config).outputSize(height: 200, width: 300) == (336, 504))
    }

    func testPadToSquareUsesLLaVAsBackground() throws {
        let config = try PreprocessorConfig(contentsOf: Fixtures.config("clip336.json"))
        XCTAssertTrue(config.padColor == (122, 116, 104))
        let image = RGBImage(width: 3, height: 1, bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let square = image.paddedToSquare(background: config.padColor)
        XCTAssertEqual(square.width, 3)
        XCTAssertTrue(square[0, 0] == (122, 116, 104))
        XCTAssertTrue(square[1, 1] == (4, 5, 6))  // pasted at (0, (3 - 1) // 2)
        XCTAssertTrue(square[2, 2] == (122, 116, 104))
        let tall = RGBImage(width: 1, height: 4, bytes: Array(1...12))
        XCTAssertTrue(tall.paddedToSquare(background: (0, 0, 0))[1, 0] == (1, 2, 3))  // ((4 - 1) // 2, 0)
    }

    /// Thin images within the decoder's pixel limit may pad or resize to far more pixels (found by
    /// fuzzing: a 451-byte JPEG of 42304x48 asked for 5.3 GB). From a file they are refused.
    func testGeometryPastThePixelLimitIsRefused() throws {
        let processor = CLIPImageProcessor()
        let thin = RGBImage(width: 20_000, height: 1, filledWith: (1, 2, 3))
        XCTAssertThrowsError(try processor.process(thin, padToSquare: true, source: "thin.png")) { error in
            XCTAssertTrue("\(error)".contains("pad to a square of 20000x20000"), "\(error)")
        }
        XCTAssertThrowsError(try processor.process(thin, padToSquare: false, source: "thin.png")) { error in
            XCTAssertTrue("\(error)".contains("resize to 4480000x224"), "\(error)")
        }
        let fits = RGBImage(width: 2, height: 300, filledWith: (1, 2, 3))
        XCTAssertEqual(try processor.process(fits, padToSquare: true, source: "fits.png").shape, [3, 224, 224])
        XCTAssertEqual(try processor.process(fits, padToSquare: false, source: "fits.png").shape, [3, 224, 224])
    }

    func testCenterCropPadsSmallImagesWithZeros() {
        let image = RGBImage(width: 2, height: 1, bytes: [10, 11, 12, 20, 21, 22])
        let crop = centerCropped(image, height: 4, width: 3)
        // rows: pad top ceil(3 / 2) = 2; columns: pad left ceil(1 / 2) = 1
        XCTAssertTrue(crop[1, 2] == (10, 11, 12))
        XCTAssertTrue(crop[2, 2] == (20, 21, 22))
        XCTAssertTrue(crop[0, 2] == (0, 0, 0))
        XCTAssertTrue(crop[1, 1] == (0, 0, 0))
    }

    func testLegacyAndCurrentConfigLayoutsAgree() throws {
        let legacy = try PreprocessorConfig(contentsOf: Fixtures.config("clip224.json"))
        XCTAssertEqual(legacy.size, .shortestEdge(224))
        XCTAssertEqual(legacy.cropHeight, 224)
        XCTAssertEqual(legacy.cropWidth, 224)
        XCTAssertEqual(legacy.resample, .bicubic)
        XCTAssertEqual(legacy.rescaleFactor, 1.0 / 255.0)
        let current = try PreprocessorConfig(contentsOf: Fixtures.config("clip336.json"))
        XCTAssertEqual(current.size, .shortestEdge(336))
        XCTAssertEqual(current.cropHeight, 336)
        let custom = try PreprocessorConfig(contentsOf: Fixtures.config("custom.json"))
        XCTAssertEqual(custom.size, .exact(height: 31, width: 27))
        XCTAssertEqual(custom.resample, .bilinear)
        XCTAssertEqual(custom.imageStd, [0.2, 0.3, 0.4])
    }

    func testConfigErrorsNameTheKey() {
        let bad: [(String, String)] = [
            (#"{"do_resize": "yes"}"#, "do_resize"),
            (#"{"do_normalize": 1}"#, "do_normalize"),
            (#"{"size": {"longest_edge": 10}}"#, "size"),
            (#"{"size": {"shortest_edge": "224"}}"#, "size.shortest_edge"),
            (#"{"size": -3}"#, "size"),
            (#"{"crop_size": {"height": 10}}"#, "crop_size"),
            (#"{"crop_size": 2.5}"#, "crop_size"),
            (#"{"resample": 0}"#, "resample"),
            (#"{"resample": true}"#, "resample"),
            (#"{"rescale_factor": "1/255"}"#, "rescale_factor"),
            (#"{"image_mean": [0.5, 0.5]}"#, "image_mean"),
            (#"{"image_std": [0.5, "a", 0.5]}"#, "image_std"),
            (#"{"image_std": [0.5, 0, 0.5]}"#, "image_std"),
            (#"{"do_convert_rgb": null, "do_center_crop": []}"#, "do_center_crop"),
        ]
        for (json, key) in bad {
            XCTAssertThrowsError(try PreprocessorConfig(json: Data(json.utf8), source: "cfg.json"), json) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("cfg.json") && message.contains("'\(key)'"), "\(json): \(message)")
            }
        }
        XCTAssertThrowsError(try PreprocessorConfig(json: Data("[1]".utf8), source: "cfg.json"))
        XCTAssertThrowsError(try PreprocessorConfig(json: Data("{".utf8), source: "cfg.json")) { error in
            XCTAssertTrue("\(error)".contains("cfg.json"))
        }
        // Unknown keys and nulls are ignored; a single number broadcasts to the three channels.
        let ok = try? PreprocessorConfig(json: Data(#"{"foo": [1, {"x": 2}], "size": null, "image_mean": 0.5}"#.utf8))
        XCTAssertEqual(ok?.imageMean, [0.5, 0.5, 0.5])
        XCTAssertEqual(ok?.size, .shortestEdge(224))
    }

    func testProcessorOutputIsChannelsFirst() {
        var config = PreprocessorConfig()
        config.doResize = false
        config.doCenterCrop = false
        config.doNormalize = false
        let image = RGBImage(width: 2, height: 1, bytes: [255, 0, 51, 0, 255, 102])
        let output = CLIPImageProcessor(config: config).process(image)
        XCTAssertEqual(output.shape, [3, 1, 2])
        XCTAssertEqual(output.scalars, [1, 0, 0, 1, Float(51.0 / 255.0), Float(102.0 / 255.0)])
    }
}
