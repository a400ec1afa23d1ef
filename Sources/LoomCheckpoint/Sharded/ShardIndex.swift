/// The `model.safetensors.index.json` of a sharded Hugging Face checkpoint (SPECS §1.7).
struct ShardIndex {
    static let fileName = "model.safetensors.index.json"

    /// Tensor name → shard file name, as listed.
    let weightMap: [(tensor: String, file: String)]
    /// Scalar entries of `"metadata"` as text (numbers as written); informational only.
    let metadata: [String: String]

    init(weightMap: [(tensor: String, file: String)], metadata: [String: String]) {
        self.weightMap = weightMap
        self.metadata = metadata
    }

    /// Reads and checks the index at `path`. Shard names must be plain file names in the same
    /// folder, so an index cannot point the loader at files elsewhere.
    init(path: String) throws {
        let file = try MappedFile(path: path)
        guard String(validating: file.bytes, as: UTF8.self) != nil else {
            throw CheckpointError(path: path, "index is not valid UTF-8")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(file.bytes)
        } catch let error as JSONSyntaxError {
            throw CheckpointError(path: path, "index is not valid JSON: \(error)")
        }
        guard case .object(let members) = json else {
            throw CheckpointError(path: path, "index must be a JSON object, found \(json.kindName)")
        }
        guard let weightMapValue = members.first(where: { $0.key == "weight_map" })?.value else {
            throw CheckpointError(path: path, "index has no \"weight_map\"")
        }
        guard case .object(let entries) = weightMapValue else {
            throw CheckpointError(path: path, "\"weight_map\" must be an object, found \(weightMapValue.kindName)")
        }
        weightMap = try entries.map { tensor, value in
            guard case .string(let fileName) = value else {
                throw CheckpointError(path: path, tensor: tensor, "weight_map value must be a file name string, found \(value.kindName)")
            }
            guard !fileName.isEmpty, !fileName.contains("/"), fileName != ".", fileName != ".." else {
                throw CheckpointError(path: path, tensor: tensor, "shard \"\(fileName)\" is not a plain file name in the checkpoint folder")
            }
            return (tensor, fileName)
        }
        var metadata: [String: String] = [:]
        if case .object(let items)? = members.first(where: { $0.key == "metadata" })?.value {
            for (key, value) in items {
                switch value {
                case .string(let text), .number(let text): metadata[key] = text
                case .bool(let flag): metadata[key] = String(flag)
                default: continue  // nested values carry nothing a loader needs
                }
            }
        }
        self.metadata = metadata
    }

    /// The text `save_pretrained` writes: `json.dumps(index, indent=2, sort_keys=True) + "\n"`.
    static func encoded(weightMap: [String: String], totalSize: Int) -> [UInt8] {
        var out = Array("{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {".utf8)
        for (position, tensor) in weightMap.keys.sorted(by: utf8Precedes).enumerated() {
            out.append(contentsOf: Array((position > 0 ? ",\n    " : "\n    ").utf8))
            JSONEncoding.appendString(tensor, style: .pythonASCII, to: &out)
            out.append(contentsOf: Array(": ".utf8))
            JSONEncoding.appendString(weightMap[tensor] ?? "", style: .pythonASCII, to: &out)
        }
        out.append(contentsOf: Array((weightMap.isEmpty ? "}\n}\n" : "\n  }\n}\n").utf8))
        return out
    }
}
