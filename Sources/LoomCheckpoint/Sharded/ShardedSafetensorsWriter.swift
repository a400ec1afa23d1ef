import Foundation

/// Writes a checkpoint folder the way transformers' `save_pretrained` lays it out: one
/// `model.safetensors` when everything fits in one shard, else `model-0000i-of-0000n.safetensors`
/// plus `model.safetensors.index.json`.
public enum ShardedSafetensorsWriter {
    /// Writes `entries` into `directory` (created if needed) in shards of at most `maxShardSize`
    /// bytes of tensor data (a larger tensor gets a shard of its own), then removes shard and index
    /// files left over from an earlier save. Returns the file names written, index last.
    ///
    /// `metadata` goes into every shard; transformers refuses shards whose `format` is not "pt".
    @discardableResult
    public static func write(_ entries: [SafetensorsWriter.Entry], maxShardSize: Int,
                             metadata: [String: String]? = ["format": "pt"],
                             to directory: String) throws -> [String] {
        guard maxShardSize > 0 else {
            throw CheckpointError(path: directory, "maximum shard size must be positive, got \(maxShardSize)")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(path: directory, "cannot create checkpoint folder: \(error)")
        }
        // Checks names and dtypes once, over all shards, so a bad entry fails before any file is written.
        _ = try SafetensorsWriter.validatedOrder(entries, path: directory)

        let shards = shardedInOrder(entries, maxShardSize: maxShardSize)
        if shards.count <= 1 {
            let name = ShardedSafetensors.singleFileName
            try SafetensorsWriter.write(shards.first ?? [], metadata: metadata, to: "\(directory)/\(name)")
            try removeStaleFiles(in: directory, keeping: [name])
            return [name]
        }
        var written: [String] = []
        var weightMap: [String: String] = [:]
        for (position, shard) in shards.enumerated() {
            let name = shardFileName(position + 1, of: shards.count)
            try SafetensorsWriter.write(shard, metadata: metadata, to: "\(directory)/\(name)")
            for entry in shard { weightMap[entry.name] = name }
            written.append(name)
        }
        let totalSize = entries.reduce(0) { $0 + $1.byteCount }
        let index = try AtomicFileWriter(path: "\(directory)/\(ShardIndex.fileName)")
        try index.append(ShardIndex.encoded(weightMap: weightMap, totalSize: totalSize))
        try index.commit()
        written.append(ShardIndex.fileName)
        try removeStaleFiles(in: directory, keeping: Set(written))
        return written
    }

    /// `model-00001-of-00003.safetensors`: 1-based, five digits.
    public static func shardFileName(_ number: Int, of count: Int) -> String {
        "model-\(fiveDigits(number))-of-\(fiveDigits(count)).safetensors"
    }

    /// huggingface_hub's greedy split, in the caller's order: a tensor larger than the limit is
    /// emitted alone at once, otherwise a shard closes when the next tensor would overflow it.
    static func shardedInOrder(_ entries: [SafetensorsWriter.Entry],
                               maxShardSize: Int) -> [[SafetensorsWriter.Entry]] {
        var shards: [[SafetensorsWriter.Entry]] = []
        var current: [SafetensorsWriter.Entry] = []
        var currentSize = 0
        for entry in entries {
            let size = entry.byteCount
            if size > maxShardSize {
                shards.append([entry])
                continue
            }
            if currentSize + size > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(entry)
            currentSize += size
        }
        if !current.isEmpty { shards.append(current) }
        return shards
    }

    /// Removes weight files this save did not write, so the folder never mixes two saves.
    private static func removeStaleFiles(in directory: String, keeping kept: Set<String>) throws {
        let contents: [String]
        do {
            contents = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw CheckpointError(path: directory, "cannot list checkpoint folder: \(error)")
        }
        for name in contents where !kept.contains(name) && isWeightFileName(name) {
            do {
                try FileManager.default.removeItem(atPath: "\(directory)/\(name)")
            } catch {
                throw CheckpointError(path: "\(directory)/\(name)", "cannot remove stale weight file: \(error)")
            }
        }
    }

    static func isWeightFileName(_ name: String) -> Bool {
        if name == ShardedSafetensors.singleFileName || name == ShardIndex.fileName { return true }
        let parts = Array(name.utf8)
        // "model-" 5 digits "-of-" 5 digits ".safetensors"
        guard parts.count == 6 + 5 + 4 + 5 + 12, name.hasPrefix("model-"), name.hasSuffix(".safetensors") else {
            return false
        }
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        return parts[6..<11].allSatisfy(isDigit) && Array(parts[11..<15]) == Array("-of-".utf8)
            && parts[15..<20].allSatisfy(isDigit)
    }

    private static func fiveDigits(_ number: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}
