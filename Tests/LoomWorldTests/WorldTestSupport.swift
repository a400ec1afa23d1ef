import Foundation
import XCTest
@testable import LoomWorld

/// A fresh temporary folder, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase, _ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("loom-world-\(name.filter(\.isLetter))-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Small counts with no speech at all (so no espeak-ng runs).
func silentOptions(_ directory: URL, seed: UInt64 = 7) -> DemoWorldOptions {
    var options = DemoWorldOptions(outputDirectory: directory)
    options.seed = seed
    options.pretrainVisionImages = 24
    options.pretrainSpeech = 0
    options.pretrainText = 60
    options.stage1Images = 20
    options.stage1Speech = 0
    options.stage1SpokenTextQA = 0
    options.stage2ImageQA = 60
    options.stage2SpokenQA = 0
    options.testQA = 40
    options.testSpokenQA = 0
    options.testCaptions = 20
    options.evalSamples = 0
    options.showsProgress = false
    return options
}

/// Every regular file under `directory`, by relative path, with its bytes.
func filesByPath(_ directory: URL) throws -> [String: Data] {
    var result: [String: Data] = [:]
    let root = directory.standardizedFileURL.path
    guard let walker = FileManager.default.enumerator(atPath: root) else { return result }
    for case let relative as String in walker {
        var isDirectory: ObjCBool = false
        let path = root + "/" + relative
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            result[relative] = try Data(contentsOf: URL(fileURLWithPath: path))
        }
    }
    return result
}

/// The JSON array of samples in `file`.
func samples(_ directory: URL, _ file: String) throws -> [[String: Any]] {
    let data = try Data(contentsOf: directory.appendingPathComponent(file))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]], file)
}

/// The human and gpt values of a sample's conversation.
/// The first round of a conversation (its human and gpt turns).
func turns(_ sample: [String: Any]) throws -> (human: String, gpt: String) {
    let conversation = try XCTUnwrap(sample["conversations"] as? [[String: String]])
    XCTAssertGreaterThanOrEqual(conversation.count, 2)
    XCTAssertEqual(conversation.count % 2, 0)
    XCTAssertEqual(conversation.first?["from"], "human")
    XCTAssertEqual(conversation.last?["from"], "gpt")
    return (try XCTUnwrap(conversation.first?["value"]), try XCTUnwrap(conversation[1]["value"]))
}

/// Every round of a conversation.
func rounds(_ sample: [String: Any]) throws -> [(human: String, gpt: String)] {
    let conversation = try XCTUnwrap(sample["conversations"] as? [[String: String]])
    return stride(from: 0, to: conversation.count - 1, by: 2).map { (conversation[$0]["value"] ?? "", conversation[$0 + 1]["value"] ?? "") }
}

/// Many scenes from one seed.
func sampleScenes(_ count: Int, seed: UInt64 = 1) -> [Scene] {
    var random = WorldRandom(seed: seed)
    return (0..<count).map { _ in SceneSampler.scene(&random) }
}
