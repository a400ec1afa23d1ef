import LoomNN
import LoomTensor

/// LLaVA's `linear` projector: one Linear stored at the connector's root (`weight`, `bias`).
public final class LinearConnector: Module, Connector {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor

    public init(inputDim: Int, outputDim: Int) {
        weight = Tensor(zeros: [outputDim, inputDim])
        bias = Tensor(zeros: [outputDim])
    }

    /// [B, N, D_enc] → [B, N, D_lm]
    public func callAsFunction(_ features: Tensor) -> Tensor { linear(features, weight: weight, bias: bias) }

    public func outputTokenCount(inputTokens: Int) -> Int { inputTokens }

    /// Makes the projection a lookup of the language model's word embeddings, for features that are
    /// probabilities over words (CTC posteriors, as LegoSLM reads them): column c becomes the mean of
    /// the rows `tokenIds[c]` of `embeddings` [V, D_lm] (a zero column for an empty list, as for CTC's
    /// blank), the bias zero. A one-hot feature then maps to exactly the embedding of its word, so the
    /// language model reads a heard word as it reads the written one from the first step on. Throws
    /// when a token id is outside the table (a tokenizer with more tokens than the model's embeddings).
    public func initializeAsLookup(embeddings: Tensor, tokenIds: [[Int]]) throws {
        let (classes, width) = (weight.shape[1], weight.shape[0])
        precondition(tokenIds.count == classes, "a lookup needs token ids for each of the \(classes) input features, got \(tokenIds.count)")
        precondition(embeddings.rank == 2 && embeddings.shape[1] == width,
                     "embeddings must be [vocabulary, \(width)], got \(embeddings.shape)")
        if let id = tokenIds.joined().first(where: { !(0..<embeddings.shape[0]).contains($0) }) {
            throw ConnectorError("token id \(id) is outside the language model's \(embeddings.shape[0]) embeddings: the tokenizer does not match the model")
        }
        let table = embeddings.contiguous().scalars
        var columns = [Float](repeating: 0, count: width * classes)
        for (c, ids) in tokenIds.enumerated() {
            for id in ids {
                for j in 0..<width { columns[j * classes + c] += table[id * width + j] / Float(ids.count) }
            }
        }
        weight.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] = columns[i] } }
        bias.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] = 0 } }
    }
}

/// LLaVA's `mlp{N}x_gelu` projector: Linear, then (N−1) × [GELU, Linear]. Keys follow the original
/// repository's `nn.Sequential` ("0", "2", "4", …); transformers' `linear_1`/`linear_2` (N = 2) load
/// through `transformersMapping` and are written by `transformersKey(for:)`.
/// With `inputNorm`, a LayerNorm (key `input_norm`) normalises the features first. With
/// `tokensPerFeature` k > 1 the last Linear has k × D_lm outputs and each feature becomes k consecutive
/// tokens ([B, N, k·D_lm] read as [B, N·k, D_lm]). With `outputNorm`, an RMSNorm (key `output_norm`)
/// normalises each output token (`OutputScaledConnector`).
public final class MLPGELUConnector: Module, OutputScaledConnector {
    public let layers: [Linear]
    public let inputNorm: LayerNorm?
    public let outputNorm: RMSNorm?
    public let tokensPerFeature: Int

    public init(inputDim: Int, outputDim: Int, depth: Int, inputNorm: Bool = false, outputNorm: Bool = false, tokensPerFeature: Int = 1) {
        precondition(depth >= 1, "mlp{N}x_gelu needs N ≥ 1, got \(depth)")
        precondition(tokensPerFeature >= 1, "tokens_per_feature must be positive, got \(tokensPerFeature)")
        let widths = [inputDim] + Array(repeating: outputDim, count: depth - 1) + [outputDim * tokensPerFeature]
        layers = (0..<depth).map { Linear(widths[$0], widths[$0 + 1]) }
        self.inputNorm = inputNorm ? LayerNorm(inputDim, eps: 1e-5) : nil
        self.outputNorm = outputNorm ? RMSNorm(outputDim, eps: 1e-6) : nil
        self.tokensPerFeature = tokensPerFeature
    }

    public override var children: [(key: String, module: Module)] {
        (inputNorm.map { [("input_norm", $0 as Module)] } ?? []) + layers.enumerated().map { (String(2 * $0.offset), $0.element) }
            + (outputNorm.map { [("output_norm", $0 as Module)] } ?? [])
    }

    public var depth: Int { layers.count }

    /// [B, N, D_enc] → [B, N·k, D_lm]
    public func callAsFunction(_ features: Tensor) -> Tensor {
        var h = layers[0](inputNorm.map { $0(features) } ?? features)
        for layer in layers.dropFirst() { h = layer(gelu(h)) }
        if tokensPerFeature > 1 { h = h.reshaped([h.shape[0], h.shape[1] * tokensPerFeature, h.shape[2] / tokensPerFeature]) }
        return outputNorm.map { $0(h) } ?? h
    }

    public func outputTokenCount(inputTokens: Int) -> Int { inputTokens * tokensPerFeature }

    /// transformers' LlavaMultiModalProjector names (linear_1, linear_2, …) onto the Sequential's.
    public var transformersMapping: KeyMapping {
        KeyMapping(renames: (0..<depth).map { ("linear_\($0 + 1).", "\(2 * $0).") })
    }

    /// The transformers key of one of this connector's keys ("2.weight" → "linear_2.weight").
    public func transformersKey(for key: String) -> String {
        guard let dot = key.firstIndex(of: "."), let index = Int(key[..<dot]) else { return key }
        return "linear_\(index / 2 + 1)" + key[dot...]
    }
}
