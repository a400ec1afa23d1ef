@testable import LoomDemo
import LoomTraining
import XCTest

final class DemoRunTests: XCTestCase {
    /// recipes/demo.yaml of this repository.
    static let demoRecipe = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("recipes/demo.yaml").path

    /// A copy of recipes/demo.yaml with `target` replaced by `replacement`, written into a fresh
    /// temporary folder (removed when the test ends); its path.
    func editedDemoRecipe(replacing target: String, with replacement: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loom-demo-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let text = try String(contentsOfFile: Self.demoRecipe, encoding: .utf8)
        XCTAssertTrue(text.contains(target), target)
        let recipe = directory.appendingPathComponent("r.yaml")
        try text.replacingOccurrences(of: target, with: replacement).write(to: recipe, atomically: true, encoding: .utf8)
        return recipe.path
    }

    func worldOverrides(_ recipePath: String, world: String) throws -> [String] {
        let run = DemoRun(options: .init(output: URL(fileURLWithPath: world).deletingLastPathComponent(), recipe: recipePath))
        return try run.worldOverrides(Recipe.load(recipePath), world: world)
    }

    /// `loom demo` trains on the files recipes/demo.yaml names, moved into the world it generated.
    func testTheDemoRecipeIsPointedAtTheGeneratedWorld() throws {
        let world = "/tmp/some world/data"
        let original = try Recipe.load(Self.demoRecipe)
        let moved = try Recipe.load(Self.demoRecipe, overrides: worldOverrides(Self.demoRecipe, world: world))
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
        let recipe = try editedDemoRecipe(replacing: "data:\n  max_length: 192\n",
                                          with: "data:\n  max_length: 192\n  train: [../data/demo-world/extra.json]\n")
        let moved = try Recipe.load(recipe, overrides: worldOverrides(recipe, world: "/w"))
        XCTAssertEqual(moved.data.train, ["/w/extra.json"])
        XCTAssertEqual(moved.stages[0].data?.train?.first, "/w/stage1/captions.json")
    }

    func testFilesOutsideTheMediaRootAreRefused() throws {
        let recipe = try editedDemoRecipe(replacing: "../data/demo-world/stage1/captions.json", with: "/elsewhere/captions.json")
        XCTAssertThrowsError(try worldOverrides(recipe, world: "/w")) { error in
            XCTAssertTrue("\(error)".contains("/elsewhere/captions.json"), "\(error)")
        }
    }
}
