import Foundation
import LoomFuzzing
import XCTest

/// Every committed fuzzing input — the seed corpus (Corpus/TARGET/) and each input that once crashed a
/// parser (Regressions/TARGET/) — goes once through its target. A parser that traps, or that a
/// sanitizer catches, fails the suite; tools/fuzz.sh generates new inputs from the same corpus.
final class CorpusReplayTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let root = here.deletingLastPathComponent().deletingLastPathComponent()

    func inputs(_ folder: String, _ target: FuzzTarget) -> [URL] {
        let directory = Self.here.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.map { directory.appendingPathComponent($0) }
    }

    func replay(_ target: FuzzTarget) throws {
        let seeds = inputs("Corpus", target)
        XCTAssertGreaterThanOrEqual(seeds.count, 3, "Corpus/\(target.rawValue) needs seed inputs")
        for file in seeds + inputs("Regressions", target) {
            target.run(try Data(contentsOf: file), root: Self.root)
        }
    }

    func testSafetensors() throws { try replay(.safetensors) }
    func testConfig() throws { try replay(.config) }
    func testTokenizerJSON() throws { try replay(.tokenizerJSON) }
    func testTokenizerEncode() throws { try replay(.tokenizerEncode) }
    func testDataset() throws { try replay(.dataset) }
    func testRecipe() throws { try replay(.recipe) }
    func testImage() throws { try replay(.image) }
    func testAudio() throws { try replay(.audio) }

    /// Corpus folders and targets correspond one to one, so no target goes unreplayed.
    func testEveryTargetHasACorpusFolder() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.here.appendingPathComponent("Corpus").path)
        XCTAssertEqual(Set(folders), Set(FuzzTarget.allCases.map(\.rawValue)))
    }
}
