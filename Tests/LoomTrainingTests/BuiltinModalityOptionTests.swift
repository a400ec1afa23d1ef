import Foundation
import LoomModels
import LoomTraining
import XCTest

/// The built-in audio modality's options: `ctc_words` must be a positive integer, needs the folder's
/// CTC head, and a name the kind does not read is refused.
final class BuiltinModalityOptionTests: XCTestCase {
    func testAudioOptionErrorsNameTheOptionOrTheMissingHead() throws {
        BuiltinModalities.register()
        let audio = try ModalityRegistry.kind("audio")
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = repo.appendingPathComponent("checkpoints/demo-audio-encoder").path
        for (value, expected) in [("ten", "must be an integer"), ("0", "must be positive")] {
            XCTAssertThrowsError(try audio.loadEncoder(folder, ["ctc_words": value])) { error in
                XCTAssert("\(error)".contains("ctc_words") && "\(error)".contains(expected), "\(error)")
            }
        }
        // The committed demo encoder ships without a head.
        XCTAssertThrowsError(try audio.loadEncoder(folder, ["ctc_words": "16"])) { error in
            XCTAssert("\(error)".contains(WhisperCTCHead.fileName), "\(error)")
        }
        XCTAssertEqual(try audio.loadEncoder(folder, [:]).featureTokenCount(inputShape: []), 125)
        XCTAssertThrowsError(try audio.checkOptions(["ctc_word": "16"])) { error in
            XCTAssert("\(error)".contains("ctc_word") && "\(error)".contains("it takes: ctc_words"), "\(error)")
        }
    }
}
