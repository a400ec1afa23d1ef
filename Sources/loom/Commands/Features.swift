import ArgumentParser
import Foundation
import LoomAudio
import LoomCheckpoint
import LoomImages
import LoomTensor

/// Preprocesses one image or audio file exactly as the training data path does.
struct Features: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model inputs for one image or audio file.",
        discussion: """
        --image: CLIPImageProcessor from DIR/preprocessor_config.json → pixel_values [3, H, W]
        --audio: WhisperFeatureExtractor from DIR/preprocessor_config.json → input_features [n_mels, frames]
        """)

    @Option(help: "An image file (PNG or JPEG).") var image: String?
    @Option(help: "An audio file (WAV, FLAC, OGG; any rate and channel count).") var audio: String?
    @Option(help: "Folder holding a Hugging Face preprocessor_config.json.") var processor: String
    @Flag(help: "Pad the image to a square with the mean colour first (LLaVA's image_aspect_ratio pad).") var padSquare = false
    @Option(help: "Audio frames to produce (default: the extractor's 3000, i.e. 30 s).") var frames: Int?
    @Option(help: "safetensors file to write.") var output: String
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (image == nil) != (audio == nil) else { throw ValidationError("give exactly one of --image and --audio") }
        if padSquare && image == nil { throw ValidationError("--pad-square applies to --image") }
        if frames != nil && audio == nil { throw ValidationError("--frames applies to --audio") }
    }

    func run() throws {
        try runtime.apply()
        let config = URL(fileURLWithPath: processor).appendingPathComponent("preprocessor_config.json")
        let (name, tensor): (String, Tensor)
        if let image {
            (name, tensor) = ("pixel_values", try CLIPImageProcessor(preprocessorConfig: config).process(path: image, padToSquare: padSquare))
        } else {
            (name, tensor) = ("input_features", try WhisperFeatureExtractor(preprocessorConfig: config).features(path: audio!, frames: frames))
        }
        try SafetensorsWriter.write([SafetensorsWriter.Entry(name, tensor)], to: output)
        print("\(name) \(describe(tensor.shape)) → \(output)")
    }
}
