import LoomNN
import LoomTensor

/// Which parameters train, by name patterns; everything else is frozen.
///
/// A pattern is matched against the full dotted parameter key; `*` matches any run of characters
/// (dots included), everything else literally: `multi_modal_projector.*`, `*.lora_*`,
/// `language_model.*`, `modalities.image.connector.*`.
public struct TrainableSet: Sendable {
    public var patterns: [String]

    public init(_ patterns: [String]) { self.patterns = patterns }

    public func matches(_ key: String) -> Bool { patterns.contains { TrainableSet.glob($0, key) } }

    /// Sets `requiresGradient` on every parameter of `module`; throws if a pattern matches nothing
    /// (a typo would otherwise silently freeze what the user meant to train).
    @discardableResult
    public func apply(to module: Module) throws -> Summary {
        let named = module.namedParameters()
        for pattern in patterns where !named.contains(where: { TrainableSet.glob(pattern, $0.key) }) {
            let sample = named.prefix(5).map(\.key).joined(separator: ", ")
            throw ConnectorError("trainable pattern \"\(pattern)\" matches no parameter (keys look like: \(sample), …)")
        }
        for (key, tensor) in named { tensor.requiresGradient = matches(key) }
        return Summary(module)
    }

    /// `*` matches any run of characters.
    public static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if pi < p.count && p[pi] == t[ti] {
                pi += 1; ti += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// Trainable and frozen parameter counts per module group (the first two key components).
    public struct Summary: CustomStringConvertible, Sendable {
        public struct Row: Sendable {
            public var group: String
            public var trainable: Int
            public var frozen: Int
        }

        public var rows: [Row]

        public init(_ module: Module) {
            var order: [String] = []
            var counts: [String: (Int, Int)] = [:]
            for (key, tensor) in module.namedParameters() {
                let parts = key.split(separator: ".")
                let group = parts.prefix(while: { Int($0) == nil }).prefix(2).joined(separator: ".")
                if counts[group] == nil { order.append(group); counts[group] = (0, 0) }
                if tensor.requiresGradient { counts[group]!.0 += tensor.count } else { counts[group]!.1 += tensor.count }
            }
            rows = order.map { Row(group: $0, trainable: counts[$0]!.0, frozen: counts[$0]!.1) }
        }

        public var trainable: Int { rows.reduce(0) { $0 + $1.trainable } }
        public var frozen: Int { rows.reduce(0) { $0 + $1.frozen } }

        public var description: String {
            let width = max(20, rows.map(\.group.count).max() ?? 0)
            func left(_ s: String) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
            func right(_ s: String) -> String { String(repeating: " ", count: max(0, 12 - s.count)) + s }
            func number(_ n: Int) -> String { right(String(n)) }
            var lines = [left("module") + right("trainable") + right("frozen")]
            for row in rows { lines.append(left(row.group) + number(row.trainable) + number(row.frozen)) }
            lines.append(left("total") + number(trainable) + number(frozen))
            return lines.joined(separator: "\n")
        }
    }
}
