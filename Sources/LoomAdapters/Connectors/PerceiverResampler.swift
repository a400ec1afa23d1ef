import LoomNN
import LoomTensor

// Flamingo's Perceiver resampler (lucidrains/flamingo-pytorch, state-dict names kept), followed by a
// projection to the language model's width. Any number of encoder tokens N becomes L latents.
// Letters: B batch, N media tokens, L latents, D resampler width, H heads, E head dim, W LM width.

/// Cross-attention from latents to (media + latents), as PerceiverAttention.
public final class PerceiverAttention: Module {
    @Child public var normMedia: LayerNorm
    @Child public var normLatents: LayerNorm
    @Child public var toQ: Linear
    @Child public var toKv: Linear
    @Child public var toOut: Linear
    let heads: Int, headDim: Int

    init(dim: Int, heads: Int, headDim: Int) {
        self.heads = heads
        self.headDim = headDim
        normMedia = LayerNorm(dim)
        normLatents = LayerNorm(dim)
        toQ = Linear(dim, heads * headDim, bias: false)
        toKv = Linear(dim, 2 * heads * headDim, bias: false)
        toOut = Linear(heads * headDim, dim, bias: false)
    }

    /// media [B, N, D], latents [B, L, D] → [B, L, D]
    func callAsFunction(_ media: Tensor, _ latents: Tensor) -> Tensor {
        let (b, l) = (latents.shape[0], latents.shape[1])
        let x = normMedia(media), lat = normLatents(latents)
        let q = toQ(lat).reshaped([b, l, heads, headDim]).transposed(1, 2)               // [B, H, L, E]
        let kv = toKv(concat([x, lat], axis: 1))                                          // [B, N+L, 2·H·E]
        let s = kv.shape[1]
        let parts = kv.split([heads * headDim, heads * headDim], axis: 2)
        let k = parts[0].reshaped([b, s, heads, headDim]).transposed(1, 2)                // [B, H, N+L, E]
        let v = parts[1].reshaped([b, s, heads, headDim]).transposed(1, 2)
        let out = scaledDotProductAttention(query: q, key: k, value: v, scale: 1 / Float(headDim).squareRoot())
        return toOut(out.transposed(1, 2).reshaped([b, l, heads * headDim]))
    }
}

/// LayerNorm → Linear → GELU → Linear, keyed as the Sequential indices 0, 1, 3.
public final class PerceiverFeedForward: Module {
    let norm: LayerNorm, up: Linear, down: Linear

    init(dim: Int, multiplier: Int) {
        norm = LayerNorm(dim)
        up = Linear(dim, dim * multiplier, bias: false)
        down = Linear(dim * multiplier, dim, bias: false)
    }

    public override var children: [(key: String, module: Module)] { [("0", norm), ("1", up), ("3", down)] }

    func callAsFunction(_ x: Tensor) -> Tensor { down(gelu(up(norm(x)))) }
}

/// One resampler layer: attention then feed-forward, keyed "0" and "1".
public final class PerceiverLayer: Module {
    let attention: PerceiverAttention, feedForward: PerceiverFeedForward

    init(dim: Int, heads: Int, headDim: Int, ffMultiplier: Int) {
        attention = PerceiverAttention(dim: dim, heads: heads, headDim: headDim)
        feedForward = PerceiverFeedForward(dim: dim, multiplier: ffMultiplier)
    }

    public override var children: [(key: String, module: Module)] { [("0", attention), ("1", feedForward)] }
}

public final class PerceiverResampler: Module, Connector {
    @Parameter public var latents: Tensor           // [L, D]
    @Parameter public var mediaPosEmb: Tensor        // [media embeds, 1, D]
    @Child public var layers: [PerceiverLayer]
    @Child public var norm: LayerNorm
    /// Loom's addition: the resampler width to the language model's.
    @Child public var proj: Linear

    public struct Options: Codable, Equatable, Sendable {
        public var latents = 64
        public var depth = 2
        public var heads = 8
        public var headDim = 64
        public var ffMultiplier = 4
        public var mediaEmbeddings = 4
        public init() {}
    }

    public init(inputDim: Int, outputDim: Int, options: Options = Options()) {
        latents = Tensor(zeros: [options.latents, inputDim])
        mediaPosEmb = Tensor(zeros: [options.mediaEmbeddings, 1, inputDim])
        layers = (0..<options.depth).map { _ in
            PerceiverLayer(dim: inputDim, heads: options.heads, headDim: options.headDim, ffMultiplier: options.ffMultiplier)
        }
        norm = LayerNorm(inputDim)
        proj = Linear(inputDim, outputDim)
    }

    /// [B, N, D] → [B, L, W] (one media frame per sample: the first media position embedding).
    public func callAsFunction(_ features: Tensor) -> Tensor {
        let (b, d) = (features.shape[0], features.shape[2])
        let media = features + mediaPosEmb.sliced(axis: 0, 0..<1).reshaped([1, 1, d])    // [B, N, D]
        var lat = latents.unsqueezed(0) + Tensor(zeros: [b, latents.shape[0], d])         // [B, L, D]
        for layer in layers {
            lat = layer.attention(media, lat) + lat
            lat = layer.feedForward(lat) + lat
        }
        return proj(norm(lat))
    }

    public func outputTokenCount(inputTokens: Int) -> Int { latents.shape[0] }

    /// Every latent reads every input token.
    public func outputTokenCount(coveringInputs real: Int, of total: Int) -> Int { latents.shape[0] }
}
