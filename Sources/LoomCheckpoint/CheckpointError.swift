/// An error a user's checkpoint files can cause. The message names the file and, where it applies,
/// the tensor and the numbers involved, so a bad file can be found without a debugger.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    /// An error about the file at `path`, optionally about one tensor in it.
    init(path: String, tensor: String? = nil, _ detail: String) {
        if let tensor {
            description = "\(path): tensor '\(tensor)': \(detail)"
        } else {
            description = "\(path): \(detail)"
        }
    }
}
