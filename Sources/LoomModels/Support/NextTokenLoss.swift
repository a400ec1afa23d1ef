import LoomTensor

/// Next-token cross-entropy as transformers computes it for causal LMs and LLaVA: position t predicts
/// labels[t + 1], −100 is ignored, `.mean` averages over the supervised tokens.
///
/// Unlike transformers, the output head runs only on the positions that have a target. Prompts,
/// image tokens and padding carry no loss, so their logits ([T, vocab] each) are never computed:
/// in a LLaVA step with 196 image tokens and 60 text tokens that skips three quarters of the head's
/// GEMMs, forward and backward. The loss and the gradients are the same.
public enum NextTokenLoss {
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
