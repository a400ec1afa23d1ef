import XCTest
import LoomCheckpoint
import LoomTensor
@testable import LoomModels

/// LLaMA-family checkpoints written by transformers: logits and greedy generation must match.
final class LanguageModelParityTests: XCTestCase {
    static let cases = ["llama_mha_tied", "llama_gqa2_untied_linear_bf16", "llama_gqa4_headdim_llama3_f16_sharded",
                        "qwen2_gqa3_tied", "mistral_gqa2"]

    func testLogitsMatchTransformers() throws {
        for name in Self.cases {
            let model = try LlamaForCausalLM.load(directory: ParityFixture.directory(name))
            let io = try ParityFixture.io(name)
            let ids = try io.intTensor("input_ids")
            let logits = try withoutGradients { model.logits(embeddings: try model.embed(ids)) }
            if io.names.contains("attention_mask") {
                // "logits" were computed with a left-padded row; padded query rows are compared too
                // (transformers attends uniformly from them, as Loom does).
                let mask = try io.intTensor("attention_mask").scalars.map { $0 != 0 }
                let masked = try withoutGradients { model.logits(embeddings: try model.embed(ids), attentionMask: mask) }
                assertParity(masked, try io.tensor("logits"), "\(name) logits with padding mask")
                assertParity(logits, try io.tensor("logits_nomask"), "\(name) logits without mask")
            } else {
                assertParity(logits, try io.tensor("logits"), "\(name) logits")
            }
        }
    }

    func testGreedyGenerationMatchesTransformers() throws {
        for name in Self.cases {
            let model = try LlamaForCausalLM.load(directory: ParityFixture.directory(name))
            let reference = try ParityFixture.generate(name)
            let prompt = IntTensor(shape: [reference.prompt.count, reference.prompt[0].count], scalars: reference.prompt.flatMap { $0 })
            let tokens = try Generation.generate(model, prompt: prompt, options: GenerationOptions(maxNewTokens: 20, stopTokens: []))
            XCTAssertEqual(tokens, reference.new_tokens, name)
        }
    }

    func testCachedDecodingEqualsFullRecomputation() throws {
        let model = try LlamaForCausalLM.load(directory: ParityFixture.directory("llama_gqa4_headdim_llama3_f16_sharded"))
        let ids = IntTensor(shape: [1, 9], scalars: [5, 17, 3, 40, 8, 22, 9, 31, 11])
        let full = try withoutGradients { model.logits(embeddings: try model.embed(ids)) }
        let cache = model.makeCache(batchSize: 1)
        var pieces: [Tensor] = []
        try withoutGradients {
            for range in [0..<4, 4..<5, 5..<9] {
                let part = IntTensor(shape: [1, range.count], scalars: Array(ids.scalars[range]))
                pieces.append(model.logits(embeddings: try model.embed(part), cache: cache))
            }
        }
        let stitched = concat(pieces, axis: 1)
        XCTAssertLessThan(zip(stitched.scalars, full.scalars).map { abs($0 - $1) }.max()!, 1e-5)
    }

    func testSamplingIsSeeded() throws {
        let model = try LlamaForCausalLM.load(directory: ParityFixture.directory("llama_mha_tied"))
        let prompt = IntTensor(shape: [1, 3], scalars: [4, 9, 12])
        let options = GenerationOptions(maxNewTokens: 12, temperature: 0.9, topP: 0.8, seed: 7, stopTokens: [])
        let a = try Generation.generate(model, prompt: prompt, options: options)
        let b = try Generation.generate(model, prompt: prompt, options: options)
        XCTAssertEqual(a, b)
        var other = options
        other.seed = 8
        XCTAssertEqual(a[0].count, 12)
        _ = try Generation.generate(model, prompt: prompt, options: other)
    }
}
