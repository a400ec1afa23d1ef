import LoomNN
import LoomTensor

/// A trainable module that maps a frozen encoder's features [B, N, D_enc] to language-model input
/// embeddings [B, M, D_lm]. M may differ from N (resamplers, frame stacking, pooling).
public protocol Connector: Module {
    /// [B, N, D_enc] → [B, M, D_lm]
    func callAsFunction(_ features: Tensor) -> Tensor
    /// M for an input of N tokens (how many slots a placeholder expands to).
    func outputTokenCount(inputTokens: Int) -> Int
    /// How many leading output tokens hold something of the first `real` of `total` input tokens (an
    /// encoder that fills fixed rows with fewer features, such as the words heard in a clip): the
    /// rest are left out of attention. Default: `outputTokenCount(inputTokens: real)`.
    func outputTokenCount(coveringInputs real: Int, of total: Int) -> Int
}

extension Connector {
    public func outputTokenCount(coveringInputs real: Int, of total: Int) -> Int { outputTokenCount(inputTokens: real) }
}

/// A connector that may end in an RMSNorm over each output token (option `output_norm`). Loom sets
/// the norm's gain to the language model's embedding scale when it builds the connector, so the
/// tokens start at the size of word embeddings instead of growing far past them in training (a
/// frozen model then cannot add to their residual stream what its lookups need).
public protocol OutputScaledConnector: Connector {
    var outputNorm: RMSNorm? { get }
}

extension OutputScaledConnector {
    /// Sets the output norm's gain to the root mean square of `embeddings` (the language model's
    /// input embedding table); nothing without an output norm.
    public func matchOutputScale(toEmbeddings embeddings: Tensor) {
        guard let outputNorm else { return }
        let rms = embeddings.withUnsafeBufferPointer { e in
            (e.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(e.count, 1))).squareRoot()
        }
        outputNorm.weight.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] = Float(rms) } }
    }
}
