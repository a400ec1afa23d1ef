import LoomTensor

/// Keys and values of the tokens seen so far, per layer, for incremental decoding.
/// Stored [B, S, K, E] (token-major, as projections come out) and grown by concatenation.
public final class KVCache {
    public final class Layer {
        var keys: Tensor?
        var values: Tensor?

        /// Appends this step's keys/values [B, T, K, E]; returns all of them [B, S, K, E].
        func appending(keys newKeys: Tensor, values newValues: Tensor) -> (Tensor, Tensor) {
            let k = keys.map { concat([$0, newKeys], axis: 1) } ?? newKeys
            let v = values.map { concat([$0, newValues], axis: 1) } ?? newValues
            keys = k.detached()
            values = v.detached()
            return (k, v)
        }
    }

    public let layers: [Layer]
    public let batchSize: Int
    /// Tokens cached so far.
    public private(set) var length = 0

    public init(layers: Int, batchSize: Int, kvHeads: Int, headDim: Int) {
        self.layers = (0..<layers).map { _ in Layer() }
        self.batchSize = batchSize
    }

    func advance(by tokens: Int) { length += tokens }
}

/// A decoder-only language model that generation and the multimodal wrapper can drive.
public protocol CausalLanguageModel: AnyObject {
    func embed(_ ids: IntTensor) throws -> Tensor
    func logits(embeddings: Tensor, attentionMask: [Bool]?, cache: KVCache?) -> Tensor
    /// Logits of the last position only [B, 1, V] (generation needs no others).
    func lastLogits(embeddings: Tensor, attentionMask: [Bool]?, cache: KVCache?) -> Tensor
    func makeCache(batchSize: Int) -> KVCache
    var eosTokenIds: [Int] { get }
}
