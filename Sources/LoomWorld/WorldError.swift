/// An error making the demo world: a missing tool (espeak-ng), a clip too long, a file that cannot be
/// written. The message names the file, utterance or option involved.
public struct WorldError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
