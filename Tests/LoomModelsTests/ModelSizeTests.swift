import Foundation
import LoomCheckpoint
import XCTest
@testable import LoomModels

/// config.json sizes are checked before any model is built from them: a file describing more weights
/// than the machine has memory, or sizes whose product overflows, is refused with a clear error.
final class ModelSizeTests: XCTestCase {
    func llama(vocab: Int, hidden: Int, layers: Int) -> Data {
        Data("""
        {"model_type": "llama", "vocab_size": \(vocab), "hidden_size": \(hidden), "intermediate_size": \(4 * hidden),
         "num_hidden_layers": \(layers), "num_attention_heads": 8, "num_key_value_heads": 8}
        """.utf8)
    }

    func testConfigsBeyondMemoryOrOverflowingAreRefused() throws {
        XCTAssertNoThrow(try ConfigFile.decode(LlamaConfig.self, from: llama(vocab: 32000, hidden: 1024, layers: 8), source: "small"))
        XCTAssertThrowsError(try ConfigFile.decode(LlamaConfig.self, from: llama(vocab: 32000, hidden: 1 << 20, layers: 1000), source: "huge")) {
            XCTAssertTrue("\($0)".contains("more than this machine's"), "\($0)")
        }
        XCTAssertThrowsError(try ConfigFile.decode(LlamaConfig.self, from: llama(vocab: 1 << 40, hidden: 1 << 30, layers: 1), source: "overflow")) {
            XCTAssertTrue("\($0)".contains("overflow"), "\($0)")
        }
        let clip = Data(#"{"hidden_size": 1048576, "intermediate_size": 4194304, "num_hidden_layers": 4096, "num_attention_heads": 16}"#.utf8)
        XCTAssertThrowsError(try ConfigFile.decode(CLIPVisionConfig.self, from: clip, source: "clip"))
        let whisper = Data(#"{"d_model": 1048576, "encoder_layers": 4096, "encoder_attention_heads": 16, "encoder_ffn_dim": 4194304}"#.utf8)
        XCTAssertThrowsError(try ConfigFile.decode(WhisperConfig.self, from: whisper, source: "whisper"))
    }
}
