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

    /// A prompt with tokens taken out (off in the mask, skipped by the positions) generates what the
    /// prompt without them generates, in a batch with a row that has none taken out.
    func testGenerationSkipsTokensTakenOutOfThePrompt() throws {
        let model = try LlamaForCausalLM.load(directory: ParityFixture.directory("llama_gqa2_untied_linear_bf16"))
        let short = [5, 17, 3, 40, 8], noise = [22, 9, 31]
        // Row 0: the short prompt with three tokens inside it taken out; row 1: the short prompt alone, then three pad tokens at the start.
        let long = [5, 17] + noise + [3, 40, 8]
        let padded = [0, 0, 0] + short
        let ids = IntTensor(shape: [2, 8], scalars: long + padded)
        let mask = [true, true, false, false, false, true, true, true] + [false, false, false, true, true, true, true, true]
        let positions = [0, 1, 2, 2, 2, 2, 3, 4] + [0, 0, 0, 0, 1, 2, 3, 4]
        let options = GenerationOptions(maxNewTokens: 10, stopTokens: [])
        let got = try Generation.generate(model, promptEmbeddings: try withoutGradients { try model.embed(ids) }, attentionMask: mask,
                                          positions: positions, options: options)
        let alone = try Generation.generate(model, prompt: IntTensor(shape: [1, 5], scalars: short), options: options)[0]
        XCTAssertEqual(got, [alone, alone])
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
