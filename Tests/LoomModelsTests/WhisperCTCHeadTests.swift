import Foundation
import XCTest
import LoomCheckpoint
import LoomNN
import LoomTensor
@testable import LoomModels

/// The CTC head published beside a Whisper encoder, and the one-feature-per-word selection it drives.
final class WhisperCTCHeadTests: XCTestCase {
    /// D = 2, classes blank / "red" / "circle": the head reads class k from feature k (blank from neither).
    func head() -> WhisperCTCHead {
        let head = WhisperCTCHead(dModel: 2, vocabulary: ["<blank>", "red", "circle"])
        head.words.weight.withUnsafeMutableBufferPointer { w in for (i, v) in [0, 0, 1, 0, 0, 1].enumerated() { w[i] = Float(v) } }
        head.words.bias!.withUnsafeMutableBufferPointer { b in for (i, v) in [0.5, 0, 0].enumerated() { b[i] = Float(v) } }
        return head
    }

    func testEachWordIsTheMeanOfItsFramesThenZeroRows() throws {
        // Frames: blank, red, red, blank, circle (two clips; the second all blank).
        let frames: [[Float]] = [[0, 0], [2, 0], [4, 1], [0, 0], [0, 3]]
        let silent = [[Float]](repeating: [0.1, 0.2], count: 5)
        let hidden = Tensor(shape: [2, 5, 2], scalars: (frames + silent).flatMap { $0 })
        hidden.requiresGradient = true
        let out = try head().wordFeatures(hidden, slots: 3)
        XCTAssertEqual(out.shape, [2, 3, 2])
        XCTAssertEqual(out.scalars, [3, 0.5, 0, 3, 0, 0,   0, 0, 0, 0, 0, 0])
        sum(out).backward()
        // d/dhidden: ½ on each "red" frame, 1 on the "circle" frame, 0 elsewhere.
        XCTAssertEqual(hidden.grad?.scalars, [0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 1, 1] + [Float](repeating: 0, count: 10))
    }

    func testMoreWordsThanSlotsIsAnError() {
        let hidden = Tensor(shape: [1, 3, 2], scalars: [2, 0, 0, 0, 0, 3])
        XCTAssertThrowsError(try head().wordFeatures(hidden, slots: 1)) { error in
            XCTAssert("\(error)".contains("2 spoken words") && "\(error)".contains("ctc_words 1"), "\(error)")
        }
    }

    func testWrittenHeadLoadsWithItsVocabularyAndAnAbsentOneIsExplained() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ctc-head-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        XCTAssertThrowsError(try WhisperCTCHead.load(directory: directory.path, dModel: 2)) { error in
            XCTAssert("\(error)".contains(WhisperCTCHead.fileName) && "\(error)".contains("ctc_words"), "\(error)")
        }
        let written = head()
        try written.write(to: directory.path)
        let read = try WhisperCTCHead.load(directory: directory.path, dModel: 2)
        XCTAssertEqual(read.vocabulary, ["<blank>", "red", "circle"])
        XCTAssertEqual(read.words.weight.scalars, written.words.weight.scalars)
        XCTAssertEqual(read.words.bias?.scalars, written.words.bias?.scalars)
        XCTAssertThrowsError(try WhisperCTCHead.load(directory: directory.path, dModel: 3), "d_model must match the head")
    }

    func testAudioEncoderCountsSlotsWhenGivenAHead() throws {
        let config = try WhisperConfig(dModel: 8, encoderLayers: 1, encoderAttentionHeads: 2, encoderFfnDim: 8, maxSourcePositions: 10)
        let encoder = WhisperEncoder(config)
        XCTAssertEqual(WhisperAudioEncoder(encoder: encoder).featureTokenCount(inputShape: []), config.maxSourcePositions)
        XCTAssertEqual(WhisperAudioEncoder(encoder: encoder, ctcHead: WhisperCTCHead(dModel: 8, vocabulary: ["<blank>", "red"]), wordSlots: 12).featureTokenCount(inputShape: []), 12)
    }
}
