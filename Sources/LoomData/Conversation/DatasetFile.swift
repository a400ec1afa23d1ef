import Foundation

/// Reads conversations from a LLaVA JSON file (one array) or JSONL (one object per line).
public enum DatasetFile {
    /// A sample that could not be decoded, with its position.
    public struct DecodeFailure: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var position: String
        public var reason: String
        public var description: String { "\(file) \(position): \(reason)" }
    }

    /// Every sample of `path` that decodes, plus the ones that do not (with reasons). `modalities` are
    /// the media keys read (`image`/`images`, …).
    public static func read(_ path: String, modalities: [String] = Conversation.defaultModalities) throws -> (samples: [Conversation], failures: [DecodeFailure]) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DatasetError("cannot read dataset \(path): \(error.localizedDescription)")
        }
        let firstByte = data.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) })
        if firstByte == UInt8(ascii: "[") {
            return try readArray(data, path: path, decoder: decoder(modalities))
        }
        return readLines(data, path: path, decoder: decoder(modalities))
    }

    static func decoder(_ modalities: [String]) -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.userInfo[Conversation.modalitiesKey] = modalities
        return decoder
    }

    static func readArray(_ data: Data, path: String, decoder: JSONDecoder) throws -> ([Conversation], [DecodeFailure]) {
        guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw DatasetError("\(path) is not valid JSON (expected an array of samples)")
        }
        var samples: [Conversation] = [], failures: [DecodeFailure] = []
        for (index, element) in array.enumerated() {
            do {
                let bytes = try JSONSerialization.data(withJSONObject: element)
                var sample = try decoder.decode(Conversation.self, from: bytes)
                if sample.id.isEmpty { sample.id = "#\(index)" }
                samples.append(sample)
            } catch {
                failures.append(DecodeFailure(file: path, position: "sample \(index)", reason: describe(error)))
            }
        }
        return (samples, failures)
    }

    static func readLines(_ data: Data, path: String, decoder: JSONDecoder) -> ([Conversation], [DecodeFailure]) {
        var samples: [Conversation] = [], failures: [DecodeFailure] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do {
                var sample = try decoder.decode(Conversation.self, from: Data(line))
                if sample.id.isEmpty { sample.id = "line \(lineNumber)" }
                samples.append(sample)
            } catch {
                failures.append(DecodeFailure(file: path, position: "line \(lineNumber)", reason: describe(error)))
            }
        }
        return (samples, failures)
    }

    static func describe(_ error: Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .keyNotFound(let key, _): return "missing key \"\(key.stringValue)\""
            case .typeMismatch(let type, let context):
                return "key \(context.codingPath.map(\.stringValue).joined(separator: ".")) should be \(type)"
            case .valueNotFound(_, let context): return "null at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
            case .dataCorrupted(let context): return "invalid JSON: \(context.debugDescription)"
            @unknown default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
