/// Gradient checkpointing (activation recomputation, as transformers' `gradient_checkpointing_enable`):
/// runs `body` without recording, so none of its intermediate activations stay alive, and records one
/// tape entry that, in backward, runs `body` again with recording on and back-propagates through it.
///
/// Memory: the activations of one `body` at a time instead of all of them; time: one more forward of
/// `body`. The gradients are the same bits as without it, provided `body` is deterministic: random
/// ops inside must replay their draws (`replay` runs before the recomputation and should restore the
/// random state `body` started from; its return value runs afterwards to put back the state the
/// first pass left).
///
/// `parameters` are the trainable leaves `body` uses: their gradients accumulate during the
/// recomputation's backward, and listing them records the entry when only they need gradients.
public func recomputedInBackward(_ x: Tensor, parameters: [Tensor],
                                 replay: (() -> () -> Void)? = nil,
                                 _ body: @escaping (Tensor) -> Tensor) -> Tensor {
    guard GradientMode.isEnabled, x.needsGradient || parameters.contains(where: \.needsGradient) else { return body(x) }
    let input = x.detached()
    let output = withoutGradients { body(input) }
    let inputNeedsGradient = x.needsGradient
    return Tensor.record("recompute", output, inputs: [x] + parameters) { g in
        GradientMode.$isRecordingDisabled.withValue(false) {
            let restoreAfter = replay?()
            defer { restoreAfter?() }
            let leaf = input.detached()
            leaf.requiresGradient = inputNeedsGradient
            // The leaf is this backward's own (its gradient is read right below), not a parameter
            // whose gradient a shard of `SampleParallel` collects apart.
            GradientSink.current?.keepLocal(leaf)
            defer { GradientSink.current?.forget(leaf) }
            body(leaf).backward(seed: g)
            return [inputNeedsGradient ? leaf.grad : nil] + parameters.map { _ in nil }
        }
    }
}
