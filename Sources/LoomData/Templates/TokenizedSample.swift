/// A conversation as token ids with labels, placeholders still as marker ids (one per media item).
public struct TokenizedSample: Equatable, Sendable {
    public var id: String
    /// Token ids; a negative id is a placeholder marker.
    public var ids: [Int]
    /// Same length as `ids`; −100 where no loss is taken.
    public var labels: [Int]
    /// Media files per modality, in placeholder order.
    public var media: [String: [String]]

    public static let ignoreIndex = -100

    public init(id: String, ids: [Int], labels: [Int], media: [String: [String]]) {
        precondition(ids.count == labels.count, "\(ids.count) ids with \(labels.count) labels")
        self.id = id
        self.ids = ids
        self.labels = labels
        self.media = media
    }

    public var supervisedCount: Int { labels.filter { $0 != TokenizedSample.ignoreIndex }.count }
}

/// Why a sample cannot be used. The loader skips it with a counted warning (or fails in strict mode).
public struct SampleError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case emptyConversation = "empty conversation"
        case badRoles = "roles do not alternate human/gpt"
        case unknownPlaceholder = "unknown placeholder"
        case placeholderCount = "placeholder count does not match the media"
        case noSupervisedTokens = "no supervised token"
        case tokenizationMismatch = "tokenization mismatch"
        case template = "does not fit the template"
        case media = "media file unusable"
        case mediaOutsideRoot = "media path leaves the media folder"
    }

    public var kind: Kind
    public var sampleId: String
    public var detail: String

    public init(_ kind: Kind, sample: String, _ detail: String) {
        self.kind = kind
        self.sampleId = sample
        self.detail = detail
    }

    public var description: String { "sample \(sampleId): \(kind.rawValue): \(detail)" }
}
