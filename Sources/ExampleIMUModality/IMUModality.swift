// An inertial-measurement (IMU) modality added to Loom from outside: a CSV reader, a small frozen
// encoder and a registration. Nothing here is special to Loom's own modalities; this file only uses
// Loom's public API. docs/adding-a-modality.md walks through it.
import Foundation
import LoomCheckpoint
import LoomData
import LoomModels
import LoomNN
import LoomTensor

public enum IMU {
    /// Accelerometer x/y/z and gyroscope x/y/z.
    public static let channels = 6

    /// The placeholder conversations use, and its marker id in token sequences (any unused negative id).
    public static let placeholder = Placeholder(modality: "imu", text: "<imu>", marker: -210)

    /// Reads a CSV of `channels` columns (one row per sample time; a header line is allowed) into
    /// [channels, frames], resampled by truncation or zero padding to `frames`.
    public static func read(csv path: String, frames: Int) throws -> Tensor {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ModalityError("cannot read IMU file \(path): \(error.localizedDescription)")
        }
        var rows: [[Float]] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            if number == 0 && fields.contains(where: { $0 == nil }) { continue }  // header
            guard fields.count == channels, fields.allSatisfy({ $0 != nil }) else {
                throw ModalityError("\(path) line \(number + 1): expected \(channels) numbers")
            }
            rows.append(fields.map { $0! })
        }
        guard !rows.isEmpty else { throw ModalityError("\(path) has no samples") }
        var values = [Float](repeating: 0, count: channels * frames)
        for t in 0..<min(frames, rows.count) {
            for c in 0..<channels { values[c * frames + t] = rows[t][c] }
        }
        return Tensor(shape: [channels, frames], scalars: values)
    }

    /// Registers the "imu" modality kind. Options: "frames" (default 64), "width" (default 32).
    public static func register() {
        ModalityRegistry.register(ModalityKind(
            name: "imu", placeholder: placeholder.text, optionNames: ["frames", "width"],
            makeProcessor: { _, options in
                let frames = Int(options["frames"] ?? "") ?? 64
                return { file in try read(csv: file, frames: frames) }
            },
            loadEncoder: { folder, options in
                let encoder = IMUEncoder(width: Int(options["width"] ?? "") ?? 32)
                if FileManager.default.fileExists(atPath: folder + "/model.safetensors") {
                    try encoder.load(from: SafetensorsFile(path: folder + "/model.safetensors"), description: folder)
                }
                return encoder
            }))
    }
}

/// A small convolutional encoder: two strided conv1d layers with GELU, [B, 6, T] → [B, T/4, width].
public final class IMUEncoder: Module, ModalityEncoder {
    @Child public var conv1: Conv1d
    @Child public var conv2: Conv1d
    public let width: Int

    public init(width: Int = 32) {
        self.width = width
        conv1 = Conv1d(IMU.channels, width, kernelSize: 5, stride: 2, padding: 2)
        conv2 = Conv1d(width, width, kernelSize: 3, stride: 2, padding: 1)
    }

    public var featureDimension: Int { width }

    public func featureTokenCount(inputShape: [Int]) -> Int {
        let afterFirst = (inputShape[1] + 2 * 2 - 5) / 2 + 1
        return (afterFirst + 2 - 3) / 2 + 1
    }

    public func encode(_ inputs: Tensor) throws -> Tensor {
        guard inputs.rank == 3, inputs.shape[1] == IMU.channels else {
            throw ModalityError("IMU inputs must be [batch, \(IMU.channels), frames], got \(describe(inputs.shape))")
        }
        return gelu(conv2(gelu(conv1(inputs)))).transposed(1, 2)   // [B, N, width]
    }
}
