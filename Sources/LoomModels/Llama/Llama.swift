import LoomNN
import LoomTensor

// LLaMA-family decoder (llama, qwen2, mistral), as transformers' modeling_llama.py.
// Letters: B batch, T new tokens, S cached + new tokens, D hidden, H query heads, K key/value heads,
// E head dim, F intermediate size, V vocabulary.

public final class LlamaAttention: Module {
    @Child public var qProj: Linear
    @Child public var kProj: Linear
    @Child public var vProj: Linear
    @Child public var oProj: Linear
    let heads: Int, kvHeads: Int, headDim: Int

    init(_ config: LlamaConfig) {
        heads = config.numAttentionHeads
        kvHeads = config.numKeyValueHeads
        headDim = config.headDim
        qProj = Linear(config.hiddenSize, heads * headDim, bias: config.qkvBias)
        kProj = Linear(config.hiddenSize, kvHeads * headDim, bias: config.qkvBias)
        vProj = Linear(config.hiddenSize, kvHeads * headDim, bias: config.qkvBias)
        oProj = Linear(heads * headDim, config.hiddenSize, bias: config.outputBias)
    }

    /// Attention output [B, Q, D] for the last Q = `queries` (default: all T) positions of x [B, T, D];
    /// keys and values come from every position (and the cache).
    func callAsFunction(_ x: Tensor, context: DecoderContext, cache: KVCache.Layer?, queries: Int? = nil) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let tq = queries ?? t
        let xq = tq == t ? x : x.sliced(axis: 1, (t - tq)..<t)                // [B, Q, D]
        var q = qProj(xq).reshaped([b, tq, heads, headDim])                   // [B, Q, H, E]
        var k = kProj(x).reshaped([b, t, kvHeads, headDim])                   // [B, T, K, E]
        var v = vProj(x).reshaped([b, t, kvHeads, headDim])                   // [B, T, K, E]
        q = applyRotaryEmbedding(q, angles: tq == t ? context.rotary : context.rotary.suffix(tq))
        k = applyRotaryEmbedding(k, angles: context.rotary)
        if let cache { (k, v) = cache.appending(keys: k, values: v) }        // [B, S, K, E]
        // Causal: query i of Q sits at position S − Q + i.
        let out = scaledDotProductAttention(query: q.transposed(1, 2), key: k.transposed(1, 2), value: v.transposed(1, 2),
                                            mask: context.mask)               // [B, H, Q, E], stored [B, Q, H, E]
        return oProj(out.transposed(1, 2).reshaped([b, tq, heads * headDim])) // [B, Q, D]
    }
}

public final class LlamaMLP: Module {
    @Child public var gateProj: Linear
    @Child public var upProj: Linear
    @Child public var downProj: Linear
    let activation: Activation

    init(_ config: LlamaConfig) {
        gateProj = Linear(config.hiddenSize, config.intermediateSize, bias: config.mlpBias)
        upProj = Linear(config.hiddenSize, config.intermediateSize, bias: config.mlpBias)
        downProj = Linear(config.intermediateSize, config.hiddenSize, bias: config.mlpBias)
        activation = config.hiddenAct
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        downProj(gatedActivation(activation, gate: gateProj(x), up: upProj(x)))  // [B, T, F] → [B, T, D]
    }
}

public final class LlamaDecoderLayer: Module {
    @Child public var selfAttn: LlamaAttention
    @Child public var mlp: LlamaMLP
    @Child public var inputLayernorm: RMSNorm
    @Child public var postAttentionLayernorm: RMSNorm

    init(_ config: LlamaConfig) {
        selfAttn = LlamaAttention(config)
        mlp = LlamaMLP(config)
        inputLayernorm = RMSNorm(config.hiddenSize, eps: config.rmsNormEps)
        postAttentionLayernorm = RMSNorm(config.hiddenSize, eps: config.rmsNormEps)
    }

    /// Output [B, Q, D] for the last Q = `outputs` (default: all T) positions of x [B, T, D]. Every
    /// position still gives its key and value; only the kept ones get queries, the output projection,
    /// the residual and the MLP.
    func callAsFunction(_ x: Tensor, context: DecoderContext, cache: KVCache.Layer?, outputs: Int? = nil) -> Tensor {
        let t = x.shape[1], kept = outputs ?? t
        let tail = kept == t ? x : x.sliced(axis: 1, (t - kept)..<t)
        let h = tail + selfAttn(inputLayernorm(x), context: context, cache: cache, queries: kept)
        return h + mlp(postAttentionLayernorm(h))
    }

    /// The layer under gradient checkpointing: only its input is kept, and backward runs it again.
    /// LoRA dropout replays the masks of the first pass.
    func recomputingInBackward(_ x: Tensor, context: DecoderContext) -> Tensor {
        let linears = namedModules().compactMap { $0.module as? Linear }
        let start = linears.map(\.dropoutGenerator)
        return recomputedInBackward(x, parameters: trainableParameters.map(\.tensor), replay: {
            let end = linears.map(\.dropoutGenerator)
            for (linear, generator) in zip(linears, start) { linear.dropoutGenerator = generator }
            return { for (linear, generator) in zip(linears, end) { linear.dropoutGenerator = generator } }
        }) { [unowned self] input in self(input, context: context, cache: nil) }
    }
}

/// What every layer of one forward pass shares.
struct DecoderContext {
    /// cos and sin at the pass's positions, computed once for every layer.
    let rotary: RotaryAngles
    let mask: AttentionMask
}

/// The decoder stack without the head (`model.*` keys).
public final class LlamaModel: Module {
    @Child public var embedTokens: Embedding
    @Child public var layers: [LlamaDecoderLayer]
    @Child public var norm: RMSNorm
    public let config: LlamaConfig
    let rotary: RotaryTable
    /// Gradient checkpointing: while training, each decoder layer keeps only its input and is run
    /// again in backward (one more forward of the stack per step, a layer's activations in memory
    /// instead of all of them). Gradients are unchanged.
    public var gradientCheckpointing = false

    public init(_ config: LlamaConfig) throws {
        self.config = config
        rotary = try config.rotaryTable()
        embedTokens = Embedding(config.vocabSize, config.hiddenSize, paddingIndex: config.padTokenId)
        layers = (0..<config.numHiddenLayers).map { _ in LlamaDecoderLayer(config) }
        norm = RMSNorm(config.hiddenSize, eps: config.rmsNormEps)
    }

    /// Final hidden states [B, T, D] for input embeddings [B, T, D]. `attentionMask` ([B·S], true for
    /// real tokens, S = cached + new) marks padding; positions continue from the cache.
    ///
    /// `lastPositions` = Q returns the final hidden states of the last Q positions only, [B, Q, D]:
    /// the last layer then runs its queries, output projection and MLP on those rows alone (what a
    /// loss on the reply tokens, or the next token after a prompt, needs). Same values.
    public func callAsFunction(embeddings: Tensor, attentionMask: [Bool]? = nil, cache: KVCache? = nil,
                               lastPositions: Int? = nil) -> Tensor {
        let (b, t) = (embeddings.shape[0], embeddings.shape[1])
        if let lastPositions { precondition(lastPositions <= t && (lastPositions >= 1 || t == 0), "lastPositions \(lastPositions) outside 1…\(t)") }
        let past = cache?.length ?? 0
        if let attentionMask {
            precondition(attentionMask.count == b * (past + t), "attention mask has \(attentionMask.count) entries for [\(b), \(past + t)]")
        }
        let context = DecoderContext(
            rotary: RotaryAngles(table: rotary, positions: Array(past..<(past + t))),
            mask: AttentionMask(isCausal: true, keyPadding: attentionMask, slidingWindow: config.slidingWindow))
        var h = embeddings
        for (i, layer) in layers.enumerated() {
            if i == layers.count - 1, let lastPositions, lastPositions < t {
                h = layer(h, context: context, cache: cache?.layers[i], outputs: lastPositions)
            } else if gradientCheckpointing && cache == nil {
                h = layer.recomputingInBackward(h, context: context)
            } else {
                h = layer(h, context: context, cache: cache?.layers[i])
            }
        }
        cache?.advance(by: t)
        return norm(h)
    }
}

/// LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM.
public final class LlamaForCausalLM: Module, CausalLanguageModel {
    @Child public var model: LlamaModel
    /// Absent when the head is tied to the token embeddings.
    @Child public var lmHead: Linear?

    public init(_ config: LlamaConfig) throws {
        model = try LlamaModel(config)
        lmHead = config.tieWordEmbeddings ? nil : Linear(config.hiddenSize, config.vocabSize, bias: false)
    }

    public var config: LlamaConfig { model.config }

    /// Stored keys this model does not use: rotary caches, and a tied head stored anyway.
    public var keyMapping: KeyMapping {
        var ignored: [KeyPattern] = [.suffix(".rotary_emb.inv_freq")]
        if config.tieWordEmbeddings { ignored.append(.exact("lm_head.weight")) }
        return KeyMapping(ignored: ignored)
    }

    public func embed(_ ids: IntTensor) throws -> Tensor { try model.embedTokens(ids) }

    /// Logits [B, T, V] from input embeddings [B, T, D].
    public func logits(embeddings: Tensor, attentionMask: [Bool]? = nil, cache: KVCache? = nil) -> Tensor {
        head(model(embeddings: embeddings, attentionMask: attentionMask, cache: cache))
    }

    public func lastLogits(embeddings: Tensor, attentionMask: [Bool]? = nil, cache: KVCache? = nil) -> Tensor {
        head(model(embeddings: embeddings, attentionMask: attentionMask, cache: cache, lastPositions: 1))
    }

    /// Next-token cross-entropy for unshifted `labels` [B, T] (−100 ignored): the last layer and the
    /// head run on the positions from the first supervised one on (`NextTokenLoss`).
    public func loss(embeddings: Tensor, labels: IntTensor, attentionMask: [Bool]? = nil,
                     reduction: LossReduction = .mean) throws -> Tensor {
        try NextTokenLoss.loss(labels: labels, inputShape: Array(embeddings.shape.prefix(2)), reduction: reduction, head: head) { lastPositions in
            model(embeddings: embeddings, attentionMask: attentionMask, lastPositions: lastPositions)
        }
    }

    /// The output projection (the tied embedding when there is no lm_head).
    func head(_ h: Tensor) -> Tensor { lmHead.map { $0(h) } ?? linear(h, weight: model.embedTokens.weight) }

    public func makeCache(batchSize: Int) -> KVCache {
        KVCache(layers: config.numHiddenLayers, batchSize: batchSize, kvHeads: config.numKeyValueHeads, headDim: config.headDim)
    }

    public var eosTokenIds: [Int] { config.eosTokenIds }
}
