/// Errors a user's data or files can cause inside tensor operations. Each message names the shapes,
/// indices or values involved.
public struct TensorError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Formats a shape as `[2, 3, 4]` for messages.
@inlinable
public func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
