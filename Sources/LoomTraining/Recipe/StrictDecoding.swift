import Foundation

/// Recipes reject unknown keys: Codable would silently ignore a misspelt `warmup_ratoi`.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

public struct RecipeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Decoder {
    /// Throws when the object holds a key outside `allowed`, naming the key path and the allowed keys.
    func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ keys: K.Type) throws {
        try rejectUnknownKeys(allowed: Set(K.allCases.map(\.stringValue)))
    }

    func rejectUnknownKeys(allowed: Set<String>) throws {
        let container = try container(keyedBy: AnyKey.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            let path = (codingPath + [key]).map(\.stringValue).joined(separator: ".")
            throw RecipeError("unknown key \"\(path)\" (allowed here: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}
