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
        let (out, counts) = try head().wordFeaturesAndCounts(hidden, slots: 3)
        XCTAssertEqual(counts, [2, 0])
        XCTAssertEqual(out.shape, [2, 3, 2])
        // "red" (mean of [2, 0] and [4, 1]), "circle", a zero row.
        XCTAssertEqual(out.scalars, [3, 0.5, 0, 3, 0, 0,   0, 0, 0, 0, 0, 0])
        sum(out).backward()
        // d/dhidden: ½ on each "red" frame, 1 on the "circle" frame, 0 elsewhere.
        XCTAssertEqual(hidden.grad?.scalars, [0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 1, 1] + [Float](repeating: 0, count: 10))
    }

    func testPosteriorFeaturesAreTheMeanOfTheWordsFrameProbabilities() throws {
        let frames: [[Float]] = [[0, 0], [2, 0], [4, 1], [0, 0], [0, 3]]
        let hidden = Tensor(shape: [1, 5, 2], scalars: frames.flatMap { $0 })
        let head = head()
        let out = try head.wordFeatures(hidden, slots: 3, feature: .posterior)
        XCTAssertEqual(out.shape, [1, 3, 3])
        // Softmax of the logits (blank, red, circle) = (0.5, x₀, x₁) per frame, in Double.
        func probabilities(_ f: [Float]) -> [Double] {
            let logits = [0.5, Double(f[0]), Double(f[1])], m = logits.max()!
            let e = logits.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            return e.map { $0 / z }
        }
        let red = zip(probabilities(frames[1]), probabilities(frames[2])).map { ($0 + $1) / 2 }
        let expected = red + probabilities(frames[4]) + [0, 0, 0]
        for (got, want) in zip(out.scalars, expected) { XCTAssertEqual(Double(got), want, accuracy: 1e-6) }
        // A word's row is a distribution; the empty slot's is zero.
        XCTAssertEqual(out.scalars[0..<3].reduce(0, +), 1, accuracy: 1e-6)
        let encoder = WhisperEncoder(try WhisperConfig(dModel: 2, encoderLayers: 1, encoderAttentionHeads: 1, encoderFfnDim: 4, maxSourcePositions: 5))
        let audio = WhisperAudioEncoder(encoder: encoder, ctcHead: head, wordSlots: 3, wordFeature: .posterior)
        XCTAssertEqual(audio.featureDimension, 3)
        XCTAssertEqual(audio.featureVocabulary, [nil, "red", "circle"])
        XCTAssertNil(WhisperAudioEncoder(encoder: encoder, ctcHead: head, wordSlots: 3).featureVocabulary, "hidden features are no distribution")
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
