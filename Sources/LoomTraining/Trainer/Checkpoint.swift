import Foundation
import LoomCheckpoint
import LoomData
import LoomTensor

/// Everything a stage needs to continue exactly where it stopped.
public struct TrainingState: Codable, Equatable {
    /// Optimizer steps taken.
    public var step: Int
    /// Where the next micro-batch comes from.
    public var position: DataPosition
    /// NaN/Inf steps skipped so far.
    public var skippedSteps: Int
    /// One entry per optimizer step so far.
    public var metrics: [StepMetrics]
    /// Evaluation results so far.
    public var evaluations: [EvalMetrics]
    /// Dropout generators of the LoRA layers, by layer key (their position decides future masks).
    public var generators: [String: RandomGenerator]

    public init() {
        step = 0
        position = DataPosition()
        skippedSteps = 0
        metrics = []
        evaluations = []
        generators = [:]
    }
}

public struct StepMetrics: Codable, Equatable {
    public var step: Int
    public var epoch: Int
    public var loss: Double
    public var learningRate: Double
    public var gradientNorm: Double
    public var tokens: Int
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case step, epoch, loss, learningRate = "lr", gradientNorm = "grad_norm", tokens, seconds
    }
}

public struct EvalMetrics: Codable, Equatable {
    public var step: Int
    public var loss: Double
    enum CodingKeys: String, CodingKey { case step, loss = "eval_loss" }
}

/// A checkpoint folder `RUN_DIR/<stage>/checkpoint-<step>/`: trainable weights, optimizer state,
/// training state (step, data position, metrics) and the recipe. Written to a temporary folder and
/// renamed into place, so a folder with the final name is always complete.
public enum Checkpoint {
    public static let weightsFile = "trainable.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "state.json"
    public static let recipeFile = "recipe.yaml"
    /// FNV-1a 64 checksum of every other file, written last: a checkpoint whose files no longer match
    /// (corrupted on disk) is not resumed from.
    public static let manifestFile = "manifest.json"

    public static func name(step: Int) -> String { "checkpoint-\(step)" }

    public static func write(to stageDirectory: URL, step: Int, weights: [(String, Tensor)], optimizer: [String: Tensor],
                             state: TrainingState, recipeText: String, keepLast: Int) throws {
        let fm = FileManager.default
        let final = stageDirectory.appendingPathComponent(name(step: step))
        // Partial folders of this and earlier (killed) processes: never complete, only taking space.
        removePartialFolders(in: stageDirectory)
        let temporary = stageDirectory.appendingPathComponent(".\(name(step: step))\(partialMarker)\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
            try SafetensorsWriter.write(weights.map { SafetensorsWriter.Entry($0.0, $0.1) }, to: temporary.appendingPathComponent(weightsFile).path)
            try SafetensorsWriter.write(optimizer.map { SafetensorsWriter.Entry($0.key, $0.value) }.sorted { $0.name < $1.name },
                                        to: temporary.appendingPathComponent(optimizerFile).path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try writeSynced(try encoder.encode(state), to: temporary.appendingPathComponent(stateFile))
            try writeSynced(Data(recipeText.utf8), to: temporary.appendingPathComponent(recipeFile))
            var sums: [String: String] = [:]
            for name in [weightsFile, optimizerFile, stateFile, recipeFile] {
                sums[name] = try checksum(temporary.appendingPathComponent(name))
            }
            try writeSynced(try encoder.encode(sums), to: temporary.appendingPathComponent(manifestFile))
        } catch {
            // A full disk (or any failed write) leaves the earlier checkpoints as they were and frees
            // what this one took, so that the run can be resumed once there is room.
            try? fm.removeItem(at: temporary)
            let last = try? completeCheckpoints(in: stageDirectory).last
            let fallback = last.map { "\(name(step: $0.step)) is intact; resume from it with --resume once there is room" }
                ?? "no earlier checkpoint of this stage"
            throw RecipeError("cannot write \(name(step: step)) in \(stageDirectory.path): \(error); \(fallback)")
        }
        if fm.fileExists(atPath: final.path) { try fm.removeItem(at: final) }
        guard rename(temporary.path, final.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? fm.removeItem(at: temporary)
            throw RecipeError("cannot move checkpoint into place at \(final.path): \(reason)")
        }
        syncDirectory(stageDirectory)
        // Keep the newest `keepLast`.
        let all = try completeCheckpoints(in: stageDirectory)
        for old in all.dropLast(keepLast) { try? fm.removeItem(at: old.url) }
    }

    static let partialMarker = ".partial-"

    /// Removes `.checkpoint-N.partial-PID` and `.final.partial-PID` folders: a process killed while
    /// writing leaves one behind, never complete.
    static func removePartialFolders(in stageDirectory: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stageDirectory.path)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(partialMarker) {
            try? FileManager.default.removeItem(at: stageDirectory.appendingPathComponent(name))
        }
    }

    /// Complete checkpoints of a stage folder, oldest first.
    public static func completeCheckpoints(in stageDirectory: URL) throws -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stageDirectory.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let url = stageDirectory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent(stateFile).path) else { return nil }
            return (step, url)
        }.sorted { $0.0 < $1.0 }
    }

    /// Whether every file of a checkpoint still matches its manifest; the reason when not.
    public static func verify(_ checkpoint: URL) -> String? {
        guard let data = try? Data(contentsOf: checkpoint.appendingPathComponent(manifestFile)),
              let sums = try? JSONDecoder().decode([String: String].self, from: data) else {
            return "no readable \(manifestFile)"
        }
        for (name, expected) in sums.sorted(by: { $0.key < $1.key }) {
            guard let actual = try? checksum(checkpoint.appendingPathComponent(name)) else { return "\(name) is missing" }
            if actual != expected { return "\(name) does not match its checksum" }
        }
        return nil
    }

    /// FNV-1a 64 of a file's bytes, in hex.
    static func checksum(_ url: URL) throws -> String {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        data.withUnsafeBytes { bytes in
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        return String(hash, radix: 16)
    }

    public static func readState(_ checkpoint: URL) throws -> TrainingState {
        let url = checkpoint.appendingPathComponent(stateFile)
        do {
            return try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: url))
        } catch {
            throw RecipeError("cannot read training state \(url.path): \(error)")
        }
    }

    static func writeSynced(_ data: Data, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw RecipeError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                guard n > 0 else { throw RecipeError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw RecipeError("cannot sync \(url.path): \(String(cString: strerror(errno)))") }
    }

    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
