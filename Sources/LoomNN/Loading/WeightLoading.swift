import LoomCheckpoint
import LoomTensor

/// Loading failed; the message lists every missing, unexpected and mis-shaped key at once.
public struct WeightLoadingError: Error, CustomStringConvertible {
    public var source: String
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var misshaped: [(key: String, stored: [Int], expected: [Int])] = []
    public var duplicates: [(key: String, stored: [String])] = []

    var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && misshaped.isEmpty && duplicates.isEmpty }

    public var description: String {
        var lines = ["cannot load \(source):"]
        func list(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            let shown = items.prefix(20).map { "  \($0)" }
            lines.append("\(items.count) \(title):")
            lines += shown
            if items.count > 20 { lines.append("  … and \(items.count - 20) more") }
        }
        list("missing keys (the model needs them, the checkpoint lacks them)", missing)
        list("unexpected keys (in the checkpoint, unused by the model)", unexpected)
        list("mis-shaped keys", misshaped.map { "\($0.key): stored \(describe($0.stored)), model expects \(describe($0.expected))" })
        list("keys stored twice under different names", duplicates.map { "\($0.key) ← \($0.stored.joined(separator: ", "))" })
        return lines.joined(separator: "\n")
    }
}

extension Module {
    /// Fills every parameter from `source` strictly: each parameter must be stored with its shape,
    /// and each stored tensor must be used or ignored by `mapping`. Values are widened to Float32
    /// (F16/BF16 exactly). On any mismatch nothing is loaded and one error lists all problems.
    public func load(from source: TensorSource, mapping: KeyMapping = KeyMapping(), description: String) throws {
        let expected = Dictionary(namedParameters().map { ($0.key, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        var error = WeightLoadingError(source: description)
        var plan: [(stored: String, target: Tensor)] = []
        var storedFor: [String: [String]] = [:]
        for stored in source.names {
            guard let key = mapping.moduleKey(for: stored) else { continue }
            guard let target = expected[key] else { error.unexpected.append(stored); continue }
            storedFor[key, default: []].append(stored)
            guard let info = source.info(stored) else { error.missing.append(key); continue }
            if info.shape != target.shape {
                error.misshaped.append((stored, info.shape, target.shape))
                continue
            }
            plan.append((stored, target))
        }
        error.missing += expected.keys.filter { storedFor[$0] == nil }.sorted()
        error.duplicates = storedFor.filter { $0.value.count > 1 }.map { ($0.key, $0.value) }.sorted { $0.key < $1.key }
        guard error.isEmpty else { throw error }
        for (stored, target) in plan {
            let value = try source.tensor(stored)
            value.withUnsafeBufferPointer { src in
                target.withUnsafeMutableBufferPointer { dst in
                    if src.count > 0 { dst.baseAddress!.update(from: src.baseAddress!, count: src.count) }
                }
            }
        }
    }
}
