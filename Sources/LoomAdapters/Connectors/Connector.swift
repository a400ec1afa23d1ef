import LoomNN
import LoomTensor

/// A trainable module that maps a frozen encoder's features [B, N, D_enc] to language-model input
/// embeddings [B, M, D_lm]. M may differ from N (resamplers, frame stacking, pooling).
public protocol Connector: Module {
    /// [B, N, D_enc] → [B, M, D_lm]
    func callAsFunction(_ features: Tensor) -> Tensor
    /// M for an input of N tokens (how many slots a placeholder expands to).
    func outputTokenCount(inputTokens: Int) -> Int
}
