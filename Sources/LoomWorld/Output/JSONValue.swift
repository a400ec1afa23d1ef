import Foundation

/// JSON with keys kept in the order written, so files read naturally ("id", media, "conversations")
/// and the same values always give the same bytes.
public indirect enum JSONValue: Equatable, Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.compact == b.compact }

    /// One line, no spaces.
    public var compact: String {
        var out = ""
        write(to: &out, indent: nil, depth: 0)
        return out
    }

    /// Two-space indentation, one key per line.
    public var pretty: String {
        var out = ""
        write(to: &out, indent: "  ", depth: 0)
        return out + "\n"
    }

    private func write(to out: inout String, indent: String?, depth: Int) {
        switch self {
        case .string(let s): JSONValue.quote(s, into: &out)
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .bool(let b): out += b ? "true" : "false"
        case .array(let items):
            writeList(items.map { (nil, $0) }, open: "[", close: "]", to: &out, indent: indent, depth: depth)
        case .object(let pairs):
            writeList(pairs.map { ($0.0, $0.1) }, open: "{", close: "}", to: &out, indent: indent, depth: depth)
        }
    }

    private func writeList(_ items: [(String?, JSONValue)], open: String, close: String, to out: inout String,
                           indent: String?, depth: Int) {
        out += open
        if items.isEmpty { out += close; return }
        let isFlat = indent == nil || items.allSatisfy { $0.1.isScalar }
        for (i, (key, value)) in items.enumerated() {
            if i > 0 { out += isFlat && indent != nil ? ", " : "," }
            if !isFlat, let indent { out += "\n" + String(repeating: indent, count: depth + 1) }
            if let key {
                JSONValue.quote(key, into: &out)
                out += indent == nil ? ":" : ": "
            }
            value.write(to: &out, indent: indent, depth: depth + 1)
        }
        if !isFlat, let indent { out += "\n" + String(repeating: indent, count: depth) }
        out += close
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
