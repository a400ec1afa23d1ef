import Foundation

/// One entry of the tape: the op that produced a tensor, its inputs, and how to map the output's
/// gradient to the inputs' gradients.
final class GradNode {
    /// Position on the tape; backward visits entries in decreasing order, i.e. reverse recording order.
    let sequence: Int
    let op: String
    let inputs: [Tensor]
    /// Given d(loss)/d(output), returns d(loss)/d(input) for each input (nil where none is needed:
    /// check `inputs[i].needsGradient` before computing, so frozen weights cost nothing).
    var backward: ((Tensor) -> [Tensor?])?

    init(sequence: Int, op: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.sequence = sequence
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether ops record themselves, and the tape's clock.
public enum GradientMode {
    @TaskLocal static var isRecordingDisabled = false

    nonisolated(unsafe) private static var clock = 0
    private static let clockLock = NSLock()

    static func nextSequence() -> Int {
        clockLock.lock(); defer { clockLock.unlock() }
        clock += 1
        return clock
    }

    /// True unless inside `withoutGradients`.
    public static var isEnabled: Bool { !isRecordingDisabled }
}

/// Runs `body` with recording off: inference allocates no graph and no gradient memory.
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isRecordingDisabled.withValue(true, operation: body)
}

extension Tensor {
    /// True for a trainable leaf or any result of a recorded op: gradients must reach this tensor.
    public var needsGradient: Bool { requiresGradient || gradNode != nil }

    /// True when this tensor came out of a recorded op.
    public var isRecorded: Bool { gradNode != nil }

    /// Records `output` as produced by `op` from `inputs` when recording is on and some input needs a
    /// gradient. `backward` must not capture `output` itself (use `output.detached()`), or the graph leaks.
    @discardableResult
    static func record(_ op: String, _ output: Tensor, inputs: [Tensor],
                       backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        if OpProfile.isEnabled { OpProfile.forwardOp(op) }
        guard GradientMode.isEnabled, inputs.contains(where: { $0.needsGradient }) else { return output }
        output.gradNode = GradNode(sequence: GradientMode.nextSequence(), op: op, inputs: inputs, backward: backward)
        return output
    }
}
