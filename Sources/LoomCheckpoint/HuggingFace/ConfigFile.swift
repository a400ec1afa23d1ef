import Foundation

/// Reading a Hugging Face `config.json` into a Codable configuration, with errors that name the file
/// and the key path.
public enum ConfigFile {
    /// The `model_type` of a config.json, or nil when absent.
    public static func modelType(at url: URL) throws -> String? {
        struct Probe: Decodable { var model_type: String? }
        return try decode(Probe.self, from: url).model_type
    }

    public static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigError("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try decode(type, from: data, source: url.path)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, source: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw ConfigError("\(source): \(describe(error))")
        } catch let error as ConfigError {
            throw ConfigError("\(source): \(error.description)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "key \(path(context.codingPath)) should be \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "key \(path(context.codingPath)) is null, expected \(type)"
        case .keyNotFound(let key, let context):
            return "missing key \(path(context.codingPath + [key]))"
        case .dataCorrupted(let context):
            return "invalid data at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// A configuration file that cannot be used; the message names the file and key.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension KeyedDecodingContainer {
    /// The value for `key`, or `fallback` when the key is absent or null (Hugging Face's class defaults).
    public func value<T: Decodable>(_ key: Key, default fallback: @autoclosure () -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback()
    }
}
