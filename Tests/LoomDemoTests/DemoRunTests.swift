@testable import LoomDemo
import LoomTraining
import XCTest

final class DemoRunTests: XCTestCase {
    /// `loom demo` trains on the files recipes/demo.yaml names, moved into the world it generated.
    func testTheDemoRecipeIsPointedAtTheGeneratedWorld() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let recipePath = repository.appendingPathComponent("recipes/demo.yaml").path
        let world = "/tmp/some world/data"
        let run = DemoRun(options: .init(output: URL(fileURLWithPath: "/tmp/some world"), recipe: recipePath))
        let original = try Recipe.load(recipePath)
        let moved = try Recipe.load(recipePath, overrides: run.worldOverrides(original, world: world))
        XCTAssertEqual(moved.data.mediaRoot, world)
        let root = try XCTUnwrap(original.data.mediaRoot)
        XCTAssertEqual(moved.stages.count, original.stages.count)
        for (before, after) in zip(original.stages, moved.stages) {
            for (files, movedFiles) in [(before.data?.train, after.data?.train), (before.data?.eval, after.data?.eval)] {
                let files = try XCTUnwrap(files), movedFiles = try XCTUnwrap(movedFiles)
                XCTAssertFalse(files.isEmpty, before.name)
                XCTAssertEqual(movedFiles, files.map { world + $0.dropFirst(root.count) }, before.name)
            }
        }
        // Stage 1 aligns the audio connector on heard questions about scenes written as text.
        XCTAssertTrue(try XCTUnwrap(moved.stages[0].data?.train).contains(world + "/stage1/spoken_text_qa.json"))
    }

    func testTopLevelDataFilesMoveToo() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-demo-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let recipe = directory.appendingPathComponent("r.yaml")
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("recipes/demo.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "data:\n  max_length: 192\n", with: "data:\n  max_length: 192\n  train: [../data/demo-world/extra.json]\n")
        XCTAssertTrue(text.contains("extra.json"))
        try text.write(to: recipe, atomically: true, encoding: .utf8)
        let run = DemoRun(options: .init(output: directory, recipe: recipe.path))
        let moved = try Recipe.load(recipe.path, overrides: run.worldOverrides(Recipe.load(recipe.path), world: "/w"))
        XCTAssertEqual(moved.data.train, ["/w/extra.json"])
        XCTAssertEqual(moved.stages[0].data?.train?.first, "/w/stage1/captions.json")
    }

    func testFilesOutsideTheMediaRootAreRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-demo-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let recipe = directory.appendingPathComponent("r.yaml")
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("recipes/demo.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "../data/demo-world/stage1/captions.json", with: "/elsewhere/captions.json")
        try text.write(to: recipe, atomically: true, encoding: .utf8)
        let run = DemoRun(options: .init(output: directory, recipe: recipe.path))
        XCTAssertThrowsError(try run.worldOverrides(Recipe.load(recipe.path), world: "/w")) { error in
            XCTAssertTrue("\(error)".contains("/elsewhere/captions.json"), "\(error)")
        }
    }
}
