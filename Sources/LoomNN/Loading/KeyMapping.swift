/// How stored checkpoint keys map onto a module's keys: anchored-prefix renames (the way
/// transformers' `_checkpoint_conversion_mapping` handles layout changes) and keys that are stored
/// but deliberately unused. Never substring replacement, never guessing from shapes.
public struct KeyMapping: Sendable {
    /// `from` → `to`, tried in order on the start of each stored key; the first that matches wins.
    public var renames: [(from: String, to: String)]
    /// Stored keys that are skipped on purpose (checked before renaming).
    public var ignored: [KeyPattern]

    public init(renames: [(from: String, to: String)] = [], ignored: [KeyPattern] = []) {
        self.renames = renames
        self.ignored = ignored
    }

    /// The module key a stored key loads into, or nil when it is ignored.
    public func moduleKey(for stored: String) -> String? {
        if ignored.contains(where: { $0.matches(stored) }) { return nil }
        for (from, to) in renames where stored.hasPrefix(from) {
            return to + stored.dropFirst(from.count)
        }
        return stored
    }

    /// Prefixes every rename target and ignore rule with `prefix` (a sub-model inside a bigger one).
    public func nested(under prefix: String) -> KeyMapping {
        KeyMapping(renames: renames.map { (prefix + $0.from, prefix + $0.to) },
                   ignored: ignored.map { $0.nested(under: prefix) })
    }

    public static func + (a: KeyMapping, b: KeyMapping) -> KeyMapping {
        KeyMapping(renames: a.renames + b.renames, ignored: a.ignored + b.ignored)
    }
}

/// A set of stored keys, anchored at the start or the end.
public enum KeyPattern: Sendable, Equatable {
    case exact(String)
    case prefix(String)
    case suffix(String)

    public func matches(_ key: String) -> Bool {
        switch self {
        case .exact(let s): return key == s
        case .prefix(let s): return key.hasPrefix(s)
        case .suffix(let s): return key.hasSuffix(s)
        }
    }

    func nested(under prefix: String) -> KeyPattern {
        switch self {
        case .exact(let s): return .exact(prefix + s)
        case .prefix(let s): return .prefix(prefix + s)
        case .suffix: return self
        }
    }
}
