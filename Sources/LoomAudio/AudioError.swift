/// An error a user's audio file, configuration or arguments can cause. The message names the file
/// (or the configuration key) so a bad input can be found without a debugger.
public struct AudioError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// An error about the file or source named `source`.
    init(source: String, _ detail: String) {
        description = "\(source): \(detail)"
    }

    /// An error about one key of a configuration file.
    init(source: String, key: String, _ detail: String) {
        description = "\(source): key '\(key)': \(detail)"
    }
}
