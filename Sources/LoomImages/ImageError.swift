/// An error a user's image or preprocessor file can cause. The message names the file (and the key,
/// for configurations) so a bad sample can be found without a debugger.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// An error about the file called `name` (a path, or the name given to `decode(data:name:)`).
    init(file name: String, _ detail: String) { description = "\(name): \(detail)" }
}
