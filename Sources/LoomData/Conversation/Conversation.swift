import Foundation

/// One training sample in LLaVA's JSON format:
/// `{"id": …, "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"},
///  {"from": "gpt", "value": "A cat."}]}`, extended with `images`, `audio` and `audios` for several media.
public struct Conversation: Equatable, Sendable {
    public struct Turn: Equatable, Sendable {
        /// "human", "gpt" or "system" (LLaVA's names; "user"/"assistant" are accepted as synonyms).
        public var from: String
        public var value: String

        public init(from: String, value: String) {
            self.from = from
            self.value = value
        }

        public var role: Role? { Role(from) }
    }

    public enum Role: Equatable, Sendable {
        case system, user, assistant

        init?(_ name: String) {
            switch name.lowercased() {
            case "human", "user": self = .user
            case "gpt", "assistant": self = .assistant
            case "system": self = .system
            default: return nil
            }
        }
    }

    public var id: String
    /// Media files per modality name ("image", "audio"), in the order their placeholders appear.
    public var media: [String: [String]]
    public var turns: [Turn]

    public init(id: String, media: [String: [String]] = [:], turns: [Turn]) {
        self.id = id
        self.media = media
        self.turns = turns
    }
}

extension Conversation: Decodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private struct RawTurn: Decodable {
        var from: String
        var value: String
    }

    /// Modalities whose files a sample may name, as `<name>` (one file or a list) and `<name>s` (a list).
    public static let defaultModalities = ["image", "audio"]
    /// Decoder userInfo key for the modality names to read (default `defaultModalities`).
    public static let modalitiesKey = CodingUserInfoKey(rawValue: "loom.modalities")!

    /// Keys besides id, conversations and the media keys are left out (LLaVA files carry extra
    /// metadata such as "model").
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let text = try? c.decode(String.self, forKey: Key("id")) {
            id = text
        } else if let number = try? c.decode(Int.self, forKey: Key("id")) {
            id = String(number)
        } else {
            id = ""
        }
        var media: [String: [String]] = [:]
        let modalities = decoder.userInfo[Conversation.modalitiesKey] as? [String] ?? Conversation.defaultModalities
        for modality in modalities {
            let (single, plural) = (modality, modality + "s")
            var files: [String] = []
            if c.contains(Key(single)) {
                if let one = try? c.decode(String.self, forKey: Key(single)) {
                    files.append(one)
                } else {
                    files += try c.decode([String].self, forKey: Key(single))
                }
            }
            if c.contains(Key(plural)) { files += try c.decode([String].self, forKey: Key(plural)) }
            if !files.isEmpty { media[modality] = files }
        }
        self.media = media
        turns = try c.decode([RawTurn].self, forKey: Key("conversations")).map { Turn(from: $0.from, value: $0.value) }
    }
}
