import Foundation
import LoomTensor

/// The weights of a Hugging Face checkpoint folder: either one `model.safetensors` or shards listed
/// by `model.safetensors.index.json`. Every shard is opened (and its header validated) once, up
/// front, and every tensor the index lists is checked to exist in its shard.
///
/// Immutable after init, like the files it holds, so it may be read from many threads.
public final class ShardedSafetensors: TensorSource, @unchecked Sendable {
    public static let singleFileName = "model.safetensors"
    public static let indexFileName = ShardIndex.fileName

    public let directory: String
    /// Tensor names in ascending (bytewise UTF-8) order.
    public let names: [String]
    /// The opened files, in file name order.
    public let files: [SafetensorsFile]
    /// Scalar entries of the index's `"metadata"` (e.g. `total_size`); empty for a single file.
    public let indexMetadata: [String: String]

    private let fileByTensor: [String: SafetensorsFile]

    /// Opens `directory`, preferring `model.safetensors` over an index when both exist (as
    /// transformers does).
    public init(directory: String) throws {
        self.directory = directory
        let singlePath = "\(directory)/\(ShardedSafetensors.singleFileName)"
        let indexPath = "\(directory)/\(ShardedSafetensors.indexFileName)"
        if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            files = [file]
            indexMetadata = [:]
            names = file.names
            fileByTensor = Dictionary(uniqueKeysWithValues: file.names.map { ($0, file) })
            return
        }
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw CheckpointError(path: directory, "no \(ShardedSafetensors.singleFileName) or \(ShardedSafetensors.indexFileName) in this folder")
        }
        let index = try ShardIndex(path: indexPath)
        var opened: [String: SafetensorsFile] = [:]
        var fileByTensor: [String: SafetensorsFile] = [:]
        for (tensor, fileName) in index.weightMap {
            let file: SafetensorsFile
            if let existing = opened[fileName] {
                file = existing
            } else {
                let shardPath = "\(directory)/\(fileName)"
                guard FileManager.default.fileExists(atPath: shardPath) else {
                    throw CheckpointError(path: indexPath, tensor: tensor, "shard file \(fileName) is missing (expected at \(shardPath))")
                }
                file = try SafetensorsFile(path: shardPath)
                opened[fileName] = file
            }
            guard file.contains(tensor) else {
                throw CheckpointError(path: file.path, tensor: tensor, "listed in \(ShardedSafetensors.indexFileName) but absent from shard \(fileName)")
            }
            fileByTensor[tensor] = file
        }
        self.files = opened.keys.sorted(by: utf8Precedes).compactMap { opened[$0] }
        self.fileByTensor = fileByTensor
        self.indexMetadata = index.metadata
        self.names = fileByTensor.keys.sorted(by: utf8Precedes)
    }

    /// The total data size the index declares, when it does.
    public var totalSize: Int? { indexMetadata["total_size"].flatMap { Int($0) } }

    /// The file holding `name`.
    public func file(containing name: String) -> SafetensorsFile? { fileByTensor[name] }

    public func info(_ name: String) -> TensorInfo? { fileByTensor[name]?.info(name) }

    public func tensor(_ name: String) throws -> Tensor { try requireFile(name).tensor(name) }

    public func intTensor(_ name: String) throws -> IntTensor { try requireFile(name).intTensor(name) }

    private func requireFile(_ name: String) throws -> SafetensorsFile {
        guard let file = fileByTensor[name] else {
            throw CheckpointError(path: directory, tensor: name, "no such tensor in this checkpoint (it holds \(names.count))")
        }
        return file
    }
}
