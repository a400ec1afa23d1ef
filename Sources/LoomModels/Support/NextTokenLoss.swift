import LoomTensor

/// Next-token cross-entropy as transformers computes it for causal LMs and LLaVA: position t predicts
/// labels[t + 1], −100 is ignored, `.mean` averages over the supervised tokens.
///
/// Unlike transformers, the output head runs only on the positions that have a target. Prompts,
/// image tokens and padding carry no loss, so their logits ([T, vocab] each) are never computed:
/// in a LLaVA step with 196 image tokens and 60 text tokens that skips three quarters of the head's
/// GEMMs, forward and backward. The loss and the gradients are the same.
public enum NextTokenLoss {
    /// The loss of a model whose `hidden(Q)` gives the final hidden states of the last Q positions
    /// ([B, Q, D]): Q reaches back to the first position of any row that predicts a supervised label,
    /// so a decoder can skip the rest of its last layer (`LlamaModel`'s `lastPositions`). Prompts
    /// and image tokens before the first reply then get no last-layer MLP at all.
    /// `inputShape` is the model input's [B, T], which `labels` must match.
    public static func loss(labels: IntTensor, inputShape: [Int], reduction: LossReduction, head: (Tensor) -> Tensor,
                            hidden: (_ lastPositions: Int) -> Tensor) throws -> Tensor {
        guard labels.shape == inputShape else {
            throw TensorError("labels \(describe(labels.shape)) do not match the input \(describe(inputShape)) ([batch, length])")
        }
        let (b, t) = (labels.shape[0], labels.shape[1])
        var first = t - 1
        for row in 0..<b {
            if let i = (0..<max(t - 1, 0)).first(where: { labels.scalars[row * t + $0 + 1] != -100 }) { first = min(first, i) }
        }
        let kept = t == 0 ? 0 : max(t - max(first, 0), 1)
        var tail: [Int] = []
        tail.reserveCapacity(b * kept)
        for row in 0..<b { tail += labels.scalars[(row * t + t - kept)..<(row * t + t)] }
        return try loss(hidden: hidden(kept), labels: IntTensor(shape: [b, kept], scalars: tail), reduction: reduction, head: head)
    }

    /// `hidden` [B, T, D] final hidden states; `labels` [B, T] unshifted; `head` maps [N, D] → [N, V].
    public static func loss(hidden: Tensor, labels: IntTensor, reduction: LossReduction,
                            head: (Tensor) -> Tensor) throws -> Tensor {
        let (b, t, d) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        guard labels.shape == [b, t] else {
            throw TensorError("labels \(describe(labels.shape)) do not match the hidden states \(describe(hidden.shape))")
        }
        var rows: [Int] = [], targets: [Int] = []
        for row in 0..<b {
            for i in 0..<max(t - 1, 0) where labels.scalars[row * t + i + 1] != -100 {
                rows.append(row * t + i)
                targets.append(labels.scalars[row * t + i + 1])
            }
        }
        if rows.isEmpty, b * t > 0 {  // nothing supervised: one ignored row keeps crossEntropy's result (0 or NaN)
            rows = [0]
            targets = [-100]
        }
        let selected = try gatherRows(hidden.reshaped([b * t, d]), rows)           // [N, D]
        return try crossEntropy(logits: head(selected), targets: IntTensor(targets), reduction: reduction)
    }
}
