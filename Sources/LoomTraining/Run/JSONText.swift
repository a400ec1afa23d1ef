import Foundation

/// Writes JSONSerialization objects back as text without losing whether a number was written as a
/// float (`1.0` stays `1.0`): transformers' config classes reject an int where they declare a float.
enum JSONText {
    static func serialize(_ value: Any, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case let dictionary as [String: Any]:
            if dictionary.isEmpty { return "{}" }
            let items = dictionary.keys.sorted().map { "\(inner)\(quote($0)): \(serialize(dictionary[$0]!, indent: inner))" }
            return "{\n" + items.joined(separator: ",\n") + "\n\(indent)}"
        case let array as [Any]:
            if array.isEmpty { return "[]" }
            return "[" + array.map { serialize($0, indent: inner) }.joined(separator: ", ") + "]"
        case let string as String:
            return quote(string)
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": return number.boolValue ? "true" : "false"
            case "f", "d":
                let double = number.doubleValue
                if double.isFinite && double == double.rounded() && abs(double) < 1e15 { return String(format: "%.1f", double) }
                return "\(double)"
            default: return number.stringValue
            }
        case is NSNull:
            return "null"
        default:
            return quote("\(value)")
        }
    }

    static func quote(_ string: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [string], options: [.fragmentsAllowed])
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }
}
