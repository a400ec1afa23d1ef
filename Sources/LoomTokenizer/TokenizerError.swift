/// An error a user's tokenizer files or inputs can cause. The message names the file and the JSON key
/// path (`model.merges[12]`, `pre_tokenizer.pretokenizers[0].pattern`) or the input line involved.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// An error about `key` (a JSON path; empty for the whole file) of the file at `path`.
    init(file path: String, key: String, _ detail: String) {
        description = key.isEmpty ? "\(path): \(detail)" : "\(path): \(key): \(detail)"
    }
}
