import Foundation
import LoomCheckpoint
import LoomNN

/// A Hugging Face model folder: config.json plus model.safetensors or a sharded index.
public struct PretrainedFolder {
    public let directory: URL

    public init(_ path: String) throws {
        directory = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigError("\(path) is not a model folder (expected a directory with config.json and *.safetensors)")
        }
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ConfigError("\(path) has no config.json")
        }
    }

    public var configURL: URL { directory.appendingPathComponent("config.json") }

    public func modelType() throws -> String {
        guard let type = try ConfigFile.modelType(at: configURL) else {
            throw ConfigError("\(configURL.path): no model_type")
        }
        return type
    }

    public func config<T: Decodable>(_ type: T.Type) throws -> T { try ConfigFile.decode(type, from: configURL) }

    public func weights() throws -> ShardedSafetensors { try ShardedSafetensors(directory: directory.path) }

    /// Loads `module` strictly from this folder's weights.
    public func load(_ module: Module, mapping: KeyMapping) throws {
        try module.load(from: weights(), mapping: mapping, description: directory.path)
    }
}

extension LlamaForCausalLM {
    /// Loads a `llama`, `qwen2` or `mistral` folder.
    public static func load(directory: String) throws -> LlamaForCausalLM {
        let folder = try PretrainedFolder(directory)
        let model = try LlamaForCausalLM(folder.config(LlamaConfig.self))
        try folder.load(model, mapping: model.keyMapping)
        return model
    }
}
