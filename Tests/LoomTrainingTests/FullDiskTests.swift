import Foundation
import XCTest
import LoomCheckpoint
@testable import LoomTraining

/// A run folder on a disk that fills up mid-run (a 256 KB tmpfs; each smoke checkpoint takes about
/// 108 KB): the run stops with an error that names the disk and the intact checkpoint, leaves that
/// checkpoint verifiable and no partial folder behind, and once the disk has room, --resume finishes
/// with the same weights as a run that never ran out of room.
final class FullDiskTests: XCTestCase {
    func run(_ arguments: [String]) throws -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try XCTUnwrap(SmokeRunTests.loomBinary, "build the loom binary first"))
        process.arguments = arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    func mount(_ options: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = options
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    func testAFullDiskStopsTheRunAndKeepsTheLastCheckpoint() throws {
        let disk = FileManager.default.temporaryDirectory.appendingPathComponent("loom-full-disk-\(UUID().uuidString)")
        let reference = FileManager.default.temporaryDirectory.appendingPathComponent("loom-full-disk-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: disk); try? FileManager.default.removeItem(at: reference) }
        guard mount(["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk.path]) else {
            throw XCTSkip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        }
        defer { _ = umount(disk.path) }
        let arguments = ["train", SmokeRunTests.recipe, "--stage", "align", "--set", "stages.0.save_every=1",
                         "--set", "stages.0.keep_last=2", "--threads", "1"]
        let runDirectory = disk.appendingPathComponent("run")

        let full = try run(arguments + ["--output", runDirectory.path])
        XCTAssertNotEqual(full.status, 0)
        XCTAssertTrue(full.errors.contains("No space left on device"), full.errors)
        let stage = runDirectory.appendingPathComponent("align")
        let checkpoints = try Checkpoint.completeCheckpoints(in: stage)
        let last = try XCTUnwrap(checkpoints.last, "no checkpoint fitted on the disk")
        XCTAssertTrue(full.errors.contains("checkpoint-\(last.step) is intact"), full.errors)
        XCTAssertNil(Checkpoint.verify(last.url))
        let names = try FileManager.default.contentsOfDirectory(atPath: stage.path)
        XCTAssertEqual(names.filter { $0.contains(".partial-") }, [], "a partial folder was left on the full disk")

        XCTAssertTrue(mount(["-o", "remount,size=8m", disk.path]))
        let resumed = try run(arguments + ["--output", runDirectory.path, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.errors)
        let uninterrupted = try run(arguments + ["--output", reference.path])
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.errors)
        let a = try SafetensorsFile(path: reference.appendingPathComponent("align/final/trainable.safetensors").path)
        let b = try SafetensorsFile(path: stage.appendingPathComponent("final/trainable.safetensors").path)
        XCTAssertEqual(a.names, b.names)
        for name in a.names { XCTAssertEqual(try a.tensor(name).scalars, try b.tensor(name).scalars, name) }
    }
}
