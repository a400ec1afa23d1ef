import Foundation
import XCTest
@testable import LoomTraining

final class RecipeTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func write(_ yaml: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loom-recipe-\(UUID().uuidString).yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    let minimal = """
    language_model: lm
    modalities:
      image: {encoder: clip, connector: mlp2x_gelu, options: {feature_layer: -2}}
    data: {train: data.json, max_length: 128}
    stages:
      - {name: align, template: plain, trainable: ["modalities.*.connector.*"], learning_rate: 1.0e-3}
    """

    func testShippedRecipesDecode() throws {
        let folder = Self.root.appendingPathComponent("recipes")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertTrue(names.contains("smoke.yaml") && names.contains("llava-1.5.yaml"))
        for name in names {
            let recipe = try Recipe.load(folder.appendingPathComponent(name).path)
            XCTAssertFalse(recipe.stages.isEmpty, name)
        }
        let llava = try Recipe.load(folder.appendingPathComponent("llava-1.5.yaml").path)
        XCTAssertEqual(llava.stages.map(\.learningRate), [1e-3, 2e-5])
        XCTAssertEqual(llava.stages.map(\.template.rawValue), ["plain", "vicuna_v1"])
        XCTAssertEqual(llava.stages.map(\.warmupRatio), [0.03, 0.03])
    }

    func testDefaultsAndRelativePaths() throws {
        let path = try write(minimal)
        let recipe = try Recipe.load(path)
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        XCTAssertEqual(recipe.languageModel, base + "/lm")
        XCTAssertEqual(recipe.modalities["image"]?.encoder, base + "/clip")
        XCTAssertEqual(recipe.modalities["image"]?.options["feature_layer"], "-2")
        let stage = recipe.stages[0]
        XCTAssertEqual(stage.schedule, .cosine)
        XCTAssertEqual(stage.batchSize, 1)
        XCTAssertEqual(stage.maxGradNorm, 1)
        XCTAssertEqual(stage.keepLast, 2)
        XCTAssertEqual(recipe.data.train, [base + "/data.json"])
    }

    func testUnknownKeysAndWrongTypesNameFileAndKey() throws {
        let misspelt = try write(minimal.replacingOccurrences(of: "learning_rate: 1.0e-3", with: "learning_rate: 1.0e-3, warmup_ratoi: 0.1"))
        XCTAssertThrowsError(try Recipe.load(misspelt)) { error in
            XCTAssertTrue("\(error)".contains(misspelt) && "\(error)".contains("warmup_ratoi"), "\(error)")
        }
        let wrongType = try write(minimal.replacingOccurrences(of: "max_length: 128", with: "max_length: lots"))
        XCTAssertThrowsError(try Recipe.load(wrongType)) { error in
            XCTAssertTrue("\(error)".contains("max_length"), "\(error)")
        }
        let badConnectorOption = try write(minimal.replacingOccurrences(of: "connector: mlp2x_gelu,", with: "connector: perceiver, connector_options: {latent: 4},"))
        XCTAssertThrowsError(try Recipe.load(badConnectorOption)) { error in
            XCTAssertTrue("\(error)".contains("latent"), "\(error)")
        }
        let nothingTrains = try write(minimal.replacingOccurrences(of: #"trainable: ["modalities.*.connector.*"], "#, with: ""))
        XCTAssertThrowsError(try Recipe.load(nothingTrains)) { XCTAssertTrue("\($0)".contains("nothing trains"), "\($0)") }
        let noGroups = try write(minimal.replacingOccurrences(of: "learning_rate: 1.0e-3", with: "learning_rate: 1.0e-3, length_group_size: 0"))
        XCTAssertThrowsError(try Recipe.load(noGroups)) { XCTAssertTrue("\($0)".contains("length_group_size must be positive"), "\($0)") }
        let groups = try write(minimal.replacingOccurrences(of: "learning_rate: 1.0e-3", with: "learning_rate: 1.0e-3, length_group_size: 8"))
        XCTAssertEqual(try Recipe.load(groups).stages[0].lengthGroupSize, 8)
    }

    /// Anchors and aliases work, but a "billion laughs" recipe (10⁸ nodes in 8 lines) is refused at
    /// once instead of expanding until memory runs out.
    func testAliasBombsAreRefusedAndAnchorsStillWork() throws {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        for (name, previous) in zip(["b", "c", "d", "e", "f", "g", "h"], ["a", "b", "c", "d", "e", "f", "g"]) {
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
        }
        let start = Date()
        XCTAssertThrowsError(try Recipe.load(try write(bomb))) { XCTAssertTrue("\($0)".contains("more than 100000 YAML nodes"), "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        let anchored = try Recipe.load(try write("""
        language_model: lm
        stages:
          - &stage {name: align, data: {train: a.json}, trainable: ["modalities.*"], learning_rate: 1.0e-3}
          - {<<: *stage, name: instruct, learning_rate: 2.0e-5}
        """))
        XCTAssertEqual(anchored.stages.map(\.name), ["align", "instruct"])
        XCTAssertEqual(anchored.stages.map(\.learningRate), [1e-3, 2e-5])
    }

    /// Nesting bombs (500,000 brackets, or "- - - …") would overflow the YAML composer's stack; they
    /// are refused first. Brackets in quoted strings and comments do not count.
    func testNestingBombsAreRefused() throws {
        for bomb in [String(repeating: "[", count: 500_000), String(repeating: "- ", count: 300_000) + "x",
                     "a: " + String(repeating: #"["]", "#, count: 100_000)] {
            XCTAssertThrowsError(try Recipe.load(try write(bomb))) { XCTAssertTrue("\($0)".contains("nests deeper than 256"), "\($0)") }
        }
        let quoted = "language_model: lm  # see [1]\nstages: [{name: \"a]]]}}}\", data: {train: a.json}, trainable: [\"x\"], learning_rate: 0.001}]\n"
        XCTAssertEqual(try Recipe.load(try write(quoted)).stages.map(\.name), ["a]]]}}}"])
    }

    func testOverrides() throws {
        let path = try write(minimal)
        let recipe = try Recipe.load(path, overrides: ["stages.0.learning_rate=5e-4", "data.max_length=64", "stages.0.steps=3"])
        XCTAssertEqual(recipe.stages[0].learningRate, 5e-4)
        XCTAssertEqual(recipe.data.maxLength, 64)
        XCTAssertEqual(recipe.stages[0].steps, 3)
        XCTAssertThrowsError(try Recipe.load(path, overrides: ["stages.4.steps=3"])) { XCTAssertTrue("\($0)".contains("stages.4")) }
        XCTAssertThrowsError(try Recipe.load(path, overrides: ["nonsense"]))
    }
}
