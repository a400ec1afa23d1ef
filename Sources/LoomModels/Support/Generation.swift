import Foundation
import LoomTensor

/// How to pick tokens: greedy (temperature 0) or seeded temperature / nucleus sampling, as
/// transformers' `generate` with `do_sample` and its TemperatureLogitsWarper and TopPLogitsWarper.
public struct GenerationOptions: Sendable {
    public var maxNewTokens: Int
    /// 0 = greedy (argmax, first maximum on ties as torch.argmax).
    public var temperature: Float
    /// Nucleus: keep the most likely tokens whose probabilities add up to at least this.
    public var topP: Float
    public var seed: UInt64
    /// Stop a sequence when it emits one of these (the model's eos_token_id by default).
    public var stopTokens: [Int]?

    public init(maxNewTokens: Int = 64, temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0, stopTokens: [Int]? = nil) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.stopTokens = stopTokens
    }
}

public enum Generation {
    /// Continues each sequence of `prompt` ([B, T] ids, equal lengths) and returns the new tokens of
    /// each (up to and including a stop token). Runs with a KV cache and records no tape.
    public static func generate(_ model: CausalLanguageModel, prompt: IntTensor, options: GenerationOptions) throws -> [[Int]] {
        precondition(prompt.shape.count == 2, "prompt must be [batch, length], got \(describe(prompt.shape))")
        let embeddings = try withoutGradients { try model.embed(prompt) }
        return try generate(model, promptEmbeddings: embeddings, options: options)
    }

    /// Same, from prompt embeddings [B, T, D] (e.g. text with image features spliced in).
    public static func generate(_ model: CausalLanguageModel, promptEmbeddings: Tensor, attentionMask: [Bool]? = nil,
                                options: GenerationOptions) throws -> [[Int]] {
        try withoutGradients {
            let batch = promptEmbeddings.shape[0]
            let stops = Set(options.stopTokens ?? model.eosTokenIds)
            let cache = model.makeCache(batchSize: batch)
            var mask = attentionMask
            var generator = RandomGenerator(seed: options.seed)
            var outputs = [[Int]](repeating: [], count: batch)
            var finished = [Bool](repeating: false, count: batch)
            var logits = model.lastLogits(embeddings: promptEmbeddings, attentionMask: mask, cache: cache)
            for _ in 0..<options.maxNewTokens {
                let last = logits.sliced(axis: 1, (logits.shape[1] - 1)..<logits.shape[1])  // [B, 1, V]
                let rows = last.scalars
                let vocab = last.shape[2]
                var next = [Int](repeating: 0, count: batch)
                for b in 0..<batch {
                    let row = Array(rows[(b * vocab)..<((b + 1) * vocab)])
                    next[b] = finished[b] ? (outputs[b].last ?? 0) : pick(row, options: options, generator: &generator)
                    if !finished[b] {
                        outputs[b].append(next[b])
                        if stops.contains(next[b]) { finished[b] = true }
                    }
                }
                if finished.allSatisfy({ $0 }) { break }
                if var m = mask {
                    // Each sequence grows by one real token.
                    let width = m.count / batch
                    m = (0..<batch).flatMap { Array(m[($0 * width)..<(($0 + 1) * width)]) + [true] }
                    mask = m
                }
                let step = try model.embed(IntTensor(shape: [batch, 1], scalars: next))
                logits = model.lastLogits(embeddings: step, attentionMask: mask, cache: cache)
            }
            return outputs
        }
    }

    /// One token from a row of logits.
    static func pick(_ logits: [Float], options: GenerationOptions, generator: inout RandomGenerator) -> Int {
        if options.temperature <= 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return best
        }
        let scaled = logits.map { Double($0 / options.temperature) }
        let maxValue = scaled.max() ?? 0
        var probabilities = scaled.map { Foundation.exp($0 - maxValue) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        var order = Array(probabilities.indices).sorted { probabilities[$0] > probabilities[$1] }
        if options.topP < 1 {
            // Keep the head of the sorted distribution until its mass reaches top_p (at least one token).
            var mass = 0.0, keep = 0
            while keep < order.count && (keep == 0 || mass < Double(options.topP)) {
                mass += probabilities[order[keep]]
                keep += 1
            }
            order = Array(order.prefix(keep))
        }
        let kept = order.reduce(0.0) { $0 + probabilities[$1] }
        var target = Double(generator.uniform(count: 1)[0]) * kept
        for index in order {
            target -= probabilities[index]
            if target < 0 { return index }
        }
        return order.last ?? 0
    }
}
