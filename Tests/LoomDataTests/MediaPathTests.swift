import Foundation
import XCTest
@testable import LoomData

/// Media paths from datasets stay inside their media folder unless the recipe allows otherwise.
final class MediaPathTests: XCTestCase {
    func testPathsMayNotLeaveTheMediaFolder() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("loom-media-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let root = base.appendingPathComponent("media"), outside = base.appendingPathComponent("secret")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try Data([1]).write(to: root.appendingPathComponent("images/a.png"))
        try Data([2]).write(to: outside.appendingPathComponent("key.png"))
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("escape"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("inner"), withDestinationURL: root.appendingPathComponent("images"))

        func resolve(_ path: String, allow: Bool = false) throws -> String {
            try MediaPath.resolve(path, root: root, allowOutside: allow, sample: "s")
        }
        XCTAssertEqual(try resolve("images/a.png"), root.appendingPathComponent("images/a.png").path)
        XCTAssertEqual(try resolve("images/../images/a.png"), root.appendingPathComponent("images/a.png").path)
        XCTAssertNoThrow(try resolve("inner/a.png"))            // a symlink that stays inside
        XCTAssertNoThrow(try resolve("images/not-yet-there.png")) // missing files fail later, when loaded
        for bad in ["../secret/key.png", "images/../../secret/key.png", outside.appendingPathComponent("key.png").path,
                    "escape/key.png", "/etc/passwd"] {
            XCTAssertThrowsError(try resolve(bad), bad) { error in
                XCTAssertEqual((error as? SampleError)?.kind, .mediaOutsideRoot, bad)
                XCTAssertTrue("\(error)".contains("allow_media_outside_root"), "\(error)")
            }
        }
        // A recipe may allow it explicitly.
        XCTAssertEqual(try resolve("../secret/key.png", allow: true), root.appendingPathComponent("../secret/key.png").path)
        XCTAssertEqual(try resolve("/etc/passwd", allow: true), "/etc/passwd")
        // A folder whose name starts like the root's is not inside it.
        try FileManager.default.createDirectory(at: base.appendingPathComponent("media2"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try resolve("../media2/x.png"))
    }
}
