import XCTest
import LoomNN
import LoomTensor
import LoomTraining
@testable import LoomAdapters
@testable import LoomModels

/// Every connector: backward against finite differences, and a short training run under a frozen
/// language model (loss falls, frozen weights bit-identical).
final class ConnectorTests: XCTestCase {
    static func connectors(inputDim: Int, outputDim: Int) throws -> [(String, Connector)] {
        var perceiver = ConnectorOptions()
        perceiver.latents = 3; perceiver.depth = 2; perceiver.heads = 2; perceiver.headDim = 4; perceiver.ffMultiplier = 2
        var stack = ConnectorOptions(); stack.stack = 3; stack.hidden = 7
        var pool = ConnectorOptions(); pool.pool = 2
        var normed = ConnectorOptions(); normed.inputNorm = true
        var expanded = ConnectorOptions(); expanded.tokensPerFeature = 3
        var scaled = ConnectorOptions(); scaled.outputNorm = true
        var scaledStack = stack; scaledStack.outputNorm = true
        return [("mlp2x_gelu+output_norm", try ConnectorRegistry.make("mlp2x_gelu", options: scaled, inputDim: inputDim, outputDim: outputDim)),
                ("mlp2x_gelu+tokens_per_feature", try ConnectorRegistry.make("mlp2x_gelu", options: expanded, inputDim: inputDim, outputDim: outputDim)),
                ("mlp2x_gelu+input_norm", try ConnectorRegistry.make("mlp2x_gelu", options: normed, inputDim: inputDim, outputDim: outputDim)),
                ("linear", try ConnectorRegistry.make("linear", inputDim: inputDim, outputDim: outputDim)),
                ("mlp2x_gelu", try ConnectorRegistry.make("mlp2x_gelu", inputDim: inputDim, outputDim: outputDim)),
                ("mlp3x_gelu", try ConnectorRegistry.make("mlp3x_gelu", inputDim: inputDim, outputDim: outputDim)),
                ("perceiver", try ConnectorRegistry.make("perceiver", options: perceiver, inputDim: inputDim, outputDim: outputDim)),
                ("frame_stack", try ConnectorRegistry.make("frame_stack", options: stack, inputDim: inputDim, outputDim: outputDim)),
                ("frame_stack+output_norm", try ConnectorRegistry.make("frame_stack", options: scaledStack, inputDim: inputDim, outputDim: outputDim)),
                ("avg_pool", try ConnectorRegistry.make("avg_pool", options: pool, inputDim: inputDim, outputDim: outputDim))]
    }

    func testGradientsMatchFiniteDifferences() throws {
        for (name, connector) in try Self.connectors(inputDim: 6, outputDim: 5) {
            var rng = RandomGenerator(seed: 3)
            connector.initializeParameters(std: 0.3, generator: &rng)
            // Non-trivial norms and embeddings so every parameter matters.
            for (_, p) in connector.namedParameters() {
                p.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] += 0.05 * Float(i % 7) - 0.1 } }
            }
            let x = Tensor.randomNormal([2, 7, 6], generator: &rng)
            let params = connector.parameters
            // The resampler's LayerNorms over 6 features curve sharply: a smaller step keeps the
            // finite-difference truncation error under the tolerance.
            checkGradients([x] + params, name, step: name == "perceiver" ? 2e-3 : 1e-2) { _ in connector(x) }
            XCTAssertEqual(connector(x).shape[1], connector.outputTokenCount(inputTokens: 7), name)
        }
    }

    func testInputNormIsALayerNormBeforeTheMLP() throws {
        var options = ConnectorOptions(); options.inputNorm = true
        let normed = try XCTUnwrap(try ConnectorRegistry.make("mlp2x_gelu", options: options, inputDim: 6, outputDim: 5) as? MLPGELUConnector)
        XCTAssertEqual(normed.namedParameters().map(\.key),
                       ["input_norm.weight", "input_norm.bias", "0.weight", "0.bias", "2.weight", "2.bias"])
        var rng = RandomGenerator(seed: 9)
        normed.initializeParameters(std: 0.3, generator: &rng)
        let plain = MLPGELUConnector(inputDim: 6, outputDim: 5, depth: 2)
        for (key, tensor) in plain.namedParameters() {
            let source = try XCTUnwrap(normed.namedParameters().first { $0.key == key }?.tensor)
            tensor.withUnsafeMutableBufferPointer { dst in source.withUnsafeBufferPointer { src in _ = dst.update(from: src) } }
        }
        // Features far from unit scale: the normalised connector sees them as the plain one sees
        // their per-token standardisation (LayerNorm with weight 1, bias 0).
        let x = Tensor.randomNormal([2, 3, 6], mean: 40, std: 9, generator: &rng)
        let v = x.scalars
        var standardised = [Float](repeating: 0, count: v.count)
        for row in 0..<6 {
            let slice = v[(row * 6)..<(row * 6 + 6)]
            let mean = slice.reduce(0, +) / 6
            let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 6
            for i in 0..<6 { standardised[row * 6 + i] = (v[row * 6 + i] - mean) / (variance + 1e-5).squareRoot() }
        }
        let expected = plain(Tensor(shape: [2, 3, 6], scalars: standardised)).scalars
        for (a, b) in zip(normed(x).scalars, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertThrowsError(try ConnectorRegistry.make("linear", options: options, inputDim: 4, outputDim: 4)) { XCTAssertTrue("\($0)".contains("input_norm")) }
    }

    func testOutputNormGivesEveryTokenTheEmbeddingsScale() throws {
        var options = ConnectorOptions(); options.outputNorm = true; options.tokensPerFeature = 2
        let scaled = try XCTUnwrap(try ConnectorRegistry.make("mlp2x_gelu", options: options, inputDim: 6, outputDim: 5) as? MLPGELUConnector)
        XCTAssertEqual(scaled.namedParameters().map(\.key), ["0.weight", "0.bias", "2.weight", "2.bias", "output_norm.weight"])
        var rng = RandomGenerator(seed: 2)
        scaled.initializeParameters(std: 0.3, generator: &rng)
        // An embedding table of RMS 0.05: every output token (each half of a feature's row) gets it.
        let embeddings = Tensor(shape: [4, 5], scalars: (0..<20).map { $0 % 2 == 0 ? 0.05 : -0.05 })
        scaled.matchOutputScale(toEmbeddings: embeddings)
        let out = scaled(Tensor.randomNormal([2, 3, 6], mean: 3, std: 4, generator: &rng))
        XCTAssertEqual(out.shape, [2, 6, 5])
        let v = out.scalars
        for token in 0..<12 {
            let rms = (v[(token * 5)..<(token * 5 + 5)].reduce(0) { $0 + $1 * $1 } / 5).squareRoot()
            XCTAssertEqual(rms, 0.05, accuracy: 1e-4, "token \(token)")
        }
        let plain = MLPGELUConnector(inputDim: 6, outputDim: 5, depth: 2)
        plain.matchOutputScale(toEmbeddings: embeddings)
        XCTAssertNil(plain.outputNorm, "without the option there is nothing to scale")
    }

    func testLinearLookupMapsEachWordToItsEmbeddings() throws {
        let lookup = LinearConnector(inputDim: 4, outputDim: 3)
        var rng = RandomGenerator(seed: 5)
        lookup.initializeParameters(std: 0.5, generator: &rng)
        // Embedding rows 0…4; features: blank (no tokens), one-token word, two-token word, one-token word.
        let embeddings = Tensor(shape: [5, 3], scalars: (0..<15).map { Float($0) / 10 })
        XCTAssertThrowsError(try lookup.initializeAsLookup(embeddings: embeddings, tokenIds: [[], [5], [1], [0]])) { error in
            XCTAssert("\(error)".contains("token id 5") && "\(error)".contains("5 embeddings"), "\(error)")
        }
        try lookup.initializeAsLookup(embeddings: embeddings, tokenIds: [[], [4], [1, 2], [0]])
        XCTAssertEqual(lookup.bias.scalars, [0, 0, 0])
        let oneHot = Tensor(shape: [1, 4, 4], scalars: [1, 0, 0, 0,  0, 1, 0, 0,  0, 0, 1, 0,  0, 0, 0, 1])
        let expected: [Float] = [0, 0, 0,  1.2, 1.3, 1.4,  0.45, 0.55, 0.65,  0, 0.1, 0.2]
        for (got, want) in zip(lookup(oneHot).scalars, expected) { XCTAssertEqual(got, want, accuracy: 1e-6) }
        // A distribution over words gives the mix of their embeddings.
        let mixed = lookup(Tensor(shape: [1, 1, 4], scalars: [0.1, 0.6, 0, 0.3])).scalars
        for (j, got) in mixed.enumerated() { XCTAssertEqual(got, 0.6 * expected[3 + j] + 0.3 * expected[9 + j], accuracy: 1e-6) }
    }

    func testTokensPerFeatureSplitsTheLastLinearIntoConsecutiveTokens() throws {
        var options = ConnectorOptions(); options.tokensPerFeature = 3
        let wide = try XCTUnwrap(try ConnectorRegistry.make("mlp2x_gelu", options: options, inputDim: 6, outputDim: 5) as? MLPGELUConnector)
        XCTAssertEqual(wide.layers.map(\.weight.shape), [[5, 6], [15, 5]])
        var rng = RandomGenerator(seed: 4)
        wide.initializeParameters(std: 0.3, generator: &rng)
        let x = Tensor.randomNormal([2, 4, 6], generator: &rng)
        let out = wide(x)
        XCTAssertEqual(out.shape, [2, 12, 5])
        // Token 3n + j of a sample is outputs j·5 ..< (j+1)·5 of the last Linear for feature n.
        let h = wide.layers[1](gelu(wide.layers[0](x))).scalars, o = out.scalars
        for b in 0..<2 { for n in 0..<4 { for j in 0..<3 { for d in 0..<5 {
            XCTAssertEqual(o[((b * 12) + 3 * n + j) * 5 + d], h[((b * 4) + n) * 15 + j * 5 + d])
        } } } }
        options.tokensPerFeature = 0
        XCTAssertThrowsError(try ConnectorRegistry.make("mlp2x_gelu", options: options, inputDim: 6, outputDim: 5)) {
            XCTAssertTrue("\($0)".contains("tokens_per_feature"))
        }
    }

    func testRegistryErrorsNameTheProblem() {
        XCTAssertThrowsError(try ConnectorRegistry.make("qformer", inputDim: 4, outputDim: 4)) { XCTAssertTrue("\($0)".contains("qformer")) }
        var options = ConnectorOptions(); options.latents = 4
        XCTAssertThrowsError(try ConnectorRegistry.make("linear", options: options, inputDim: 4, outputDim: 4)) { XCTAssertTrue("\($0)".contains("latents")) }
        options = ConnectorOptions(); options.stack = 0
        XCTAssertThrowsError(try ConnectorRegistry.make("frame_stack", options: options, inputDim: 4, outputDim: 4)) { XCTAssertTrue("\($0)".contains("stack")) }
    }

    func testMLPKeysFollowLLaVAAndTransformers() throws {
        let mlp = MLPGELUConnector(inputDim: 4, outputDim: 3, depth: 2)
        XCTAssertEqual(mlp.namedParameters().map(\.key), ["0.weight", "0.bias", "2.weight", "2.bias"])
        XCTAssertEqual(mlp.transformersKey(for: "2.bias"), "linear_2.bias")
        XCTAssertEqual(mlp.transformersMapping.moduleKey(for: "linear_1.weight"), "0.weight")
        let perceiver = PerceiverResampler(inputDim: 4, outputDim: 3, options: { var o = PerceiverResampler.Options(); o.depth = 1; return o }())
        let keys = Set(perceiver.namedParameters().map(\.key))
        for key in ["latents", "media_pos_emb", "layers.0.0.norm_media.weight", "layers.0.0.to_q.weight", "layers.0.0.to_kv.weight",
                    "layers.0.0.to_out.weight", "layers.0.1.0.weight", "layers.0.1.1.weight", "layers.0.1.3.weight", "norm.bias", "proj.weight"] {
            XCTAssertTrue(keys.contains(key), "missing \(key)")
        }
    }

    func testEachConnectorTrainsUnderAFrozenLanguageModel() throws {
        let config = try tinyLlamaConfig()
        for (name, connector) in try Self.connectors(inputDim: 6, outputDim: config.hiddenSize) {
            var rng = RandomGenerator(seed: 11)
            let lm = try LlamaForCausalLM(config)
            lm.initializeParameters(std: 0.2, generator: &rng)
            lm.freeze()
            connector.initializeParameters(std: 0.1, generator: &rng)
            connector.unfreeze()
            let model = MultimodalLM(languageModel: lm, modalities: [
                ModalityBinding(name: "probe", placeholder: "<probe>", encoder: IdentityEncoder(dim: 6), connector: connector)])
            let frozenBefore = lm.namedParameters().map { ($0.key, $0.tensor.scalars) }
            // Two samples: [BOS, M probe slots, 4 target tokens].
            let m = connector.outputTokenCount(inputTokens: 7)
            let t = 1 + m + 4
            var ids: [Int] = [], labels: [Int] = [], slots: [Int] = []
            for b in 0..<2 {
                let targets = (0..<4).map { 3 + (b * 5 + $0 * 7) % 20 }
                ids += [1] + [Int](repeating: 0, count: m) + targets
                labels += [Int](repeating: -100, count: 1 + m) + targets
                slots += (0..<m).map { b * t + 1 + $0 }
            }
            let inputs = Tensor.randomNormal([2, 7, 6], generator: &rng)
            let optimizer = AdamW([ParameterGroup(parameters: connector.parameters, learningRate: 3e-2)])
            var losses: [Float] = []
            for _ in 0..<12 {
                optimizer.zeroGradients()
                let loss = try model.loss(inputIds: IntTensor(shape: [2, t], scalars: ids), labels: IntTensor(shape: [2, t], scalars: labels),
                                          media: [ModalityInputs(name: "probe", inputs: inputs, slots: slots)], attentionMask: nil)
                losses.append(loss.item)
                loss.backward()
                optimizer.step()
            }
            XCTAssertLessThan(losses.last!, losses.first! * 0.8, "\(name): loss \(losses.first!) → \(losses.last!)")
            for ((key, before), (_, after)) in zip(frozenBefore, lm.namedParameters()) {
                XCTAssertEqual(before, after.scalars, "\(name): frozen \(key) changed")
                XCTAssertNil(after.grad, "\(name): frozen \(key) got a gradient buffer")
            }
        }
    }

    /// An encoder that fills its rows with fewer real features (the words heard in a clip) reports
    /// how many: the slots after them are off in the attention mask, and what the language model
    /// computes at every other position does not depend on those rows.
    func testSlotsAfterAnEncodersRealFeaturesAreLeftOutOfAttention() throws {
        let config = try tinyLlamaConfig()
        let lengths = [5, 2]
        let expected: [String: [Int]] = ["linear": [5, 2], "mlp2x_gelu+tokens_per_feature": [15, 6], "frame_stack": [2, 1],
                                         "avg_pool": [3, 1], "perceiver": [3, 3]]
        for (name, connector) in try Self.connectors(inputDim: 6, outputDim: config.hiddenSize) {
            var rng = RandomGenerator(seed: 5)
            let lm = try LlamaForCausalLM(config)
            lm.initializeParameters(std: 0.2, generator: &rng)
            connector.initializeParameters(std: 0.1, generator: &rng)
            let model = MultimodalLM(languageModel: lm, modalities: [
                ModalityBinding(name: "probe", placeholder: "<probe>", encoder: PrefixEncoder(dim: 6, lengths: lengths), connector: connector)])
            // Two samples: [BOS, M probe slots, 3 text tokens], the second padded by one.
            let m = connector.outputTokenCount(inputTokens: 7)
            let t = 1 + m + 3
            var ids: [Int] = [], slots: [Int] = []
            for b in 0..<2 {
                ids += [1] + [Int](repeating: 0, count: m) + [4 + b, 9, 2]
                slots += (0..<m).map { b * t + 1 + $0 }
            }
            var padding = [Bool](repeating: true, count: 2 * t)
            padding[2 * t - 1] = false
            let inputs = Tensor.randomNormal([2, 7, 6], generator: &rng)
            let (_, mask) = try model.inputs(inputIds: IntTensor(shape: [2, t], scalars: ids), media: [ModalityInputs(name: "probe", inputs: inputs, slots: slots)],
                                             attentionMask: padding)
            let kept = lengths.map { connector.outputTokenCount(coveringInputs: $0, of: 7) }
            if let want = expected[name] { XCTAssertEqual(kept, want, name) }
            var want = padding
            for b in 0..<2 { for j in kept[b]..<m { want[b * t + 1 + j] = false } }
            XCTAssertEqual(mask, want, name)
            guard name == "linear" || name == "mlp2x_gelu+tokens_per_feature" else { continue }
            // Token j reads input row j alone: new values in the rows after the real ones change nothing
            // the language model computes at a position it attends to.
            var changed = inputs.scalars
            for b in 0..<2 { for row in lengths[b]..<7 { for c in 0..<6 { changed[(b * 7 + row) * 6 + c] += 3 } } }
            let media = { (x: Tensor) in [ModalityInputs(name: "probe", inputs: x, slots: slots)] }
            let before = try model.logits(inputIds: IntTensor(shape: [2, t], scalars: ids), media: media(inputs), attentionMask: padding).scalars
            let after = try model.logits(inputIds: IntTensor(shape: [2, t], scalars: ids), media: media(Tensor(shape: [2, 7, 6], scalars: changed)),
                                         attentionMask: padding).scalars
            let v = config.vocabSize
            for position in 0..<(2 * t) where want[position] {
                XCTAssertEqual(Array(before[(position * v)..<((position + 1) * v)]), Array(after[(position * v)..<((position + 1) * v)]),
                               "\(name): position \(position)")
            }
            XCTAssertNotEqual(before, after, "\(name): the changed rows reach the masked slots")
        }
    }
}

/// Reports the first `lengths[i]` rows of input i as its real features.
final class PrefixEncoder: Module, ModalityEncoder {
    let dim: Int, lengths: [Int]
    init(dim: Int, lengths: [Int]) { self.dim = dim; self.lengths = lengths }
    var featureDimension: Int { dim }
    func featureTokenCount(inputShape: [Int]) -> Int { inputShape[0] }
    func encode(_ inputs: Tensor) throws -> Tensor { inputs }
    func encodeWithLengths(_ inputs: Tensor) throws -> (features: Tensor, lengths: [Int]?) { (inputs, lengths) }
}

/// Passes features through: the connector sees the raw inputs.
final class IdentityEncoder: Module, ModalityEncoder {
    let dim: Int
    init(dim: Int) { self.dim = dim }
    var featureDimension: Int { dim }
    func featureTokenCount(inputShape: [Int]) -> Int { inputShape[0] }
    func encode(_ inputs: Tensor) throws -> Tensor { inputs }
}

func tinyLlamaConfig(vocab: Int = 32, hidden: Int = 16) throws -> LlamaConfig {
    let json = """
    {"model_type": "llama", "vocab_size": \(vocab), "hidden_size": \(hidden), "intermediate_size": 32, "num_hidden_layers": 2,
     "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "tie_word_embeddings": false}
    """
    return try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
}

/// Central finite differences against backward, for this target's connector and LoRA tests (the
/// pattern of Tests/LoomTensorTests/TestSupport.swift).
func checkGradients(_ inputs: [Tensor], _ label: String, step: Float = 1e-2, atol: Double = 3e-3, rtol: Double = 1e-2,
                    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
    for input in inputs { input.requiresGradient = true; input.zeroGradient() }
    let probe = f(inputs)
    var rng = RandomGenerator(seed: 991)
    let weights = Tensor.randomNormal(probe.shape, generator: &rng)
    sum(probe * weights).backward()
    let w = weights.scalars
    func objective() -> Double {
        let out = withoutGradients { f(inputs) }.scalars
        return zip(out, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    for (n, input) in inputs.enumerated() {
        guard let analytic = input.grad?.scalars else { XCTFail("\(label): input \(n) got no gradient", file: file, line: line); continue }
        let p = input.pointer
        for i in 0..<input.count {
            let saved = p[i]
            p[i] = saved + step; let plus = objective()
            p[i] = saved - step; let minus = objective()
            p[i] = saved
            let numeric = (plus - minus) / (2 * Double(step))
            if abs(Double(analytic[i]) - numeric) > atol + rtol * abs(numeric) {
                XCTFail("\(label): input \(n) \(input.shape) element \(i): analytic \(analytic[i]) vs numeric \(numeric)", file: file, line: line)
                break
            }
        }
    }
    for input in inputs { input.requiresGradient = false }
}

final class TrainableSetTests: XCTestCase {
    func testPatternsSelectAndSummaryCounts() throws {
        var rng = RandomGenerator(seed: 1)
        let lm = try LlamaForCausalLM(try tinyLlamaConfig())
        lm.initializeParameters(generator: &rng)
        let connector = try ConnectorRegistry.make("mlp2x_gelu", inputDim: 6, outputDim: 16)
        let model = MultimodalLM(languageModel: lm, modalities: [
            ModalityBinding(name: "image", placeholder: "<image>", encoder: IdentityEncoder(dim: 6), connector: connector)])
        let summary = try TrainableSet(["modalities.*.connector.*", "*.self_attn.q_proj.*"]).apply(to: model)
        let trainable = Set(model.trainableParameters.map(\.key))
        XCTAssertTrue(trainable.contains("modalities.image.connector.0.weight"))
        XCTAssertTrue(trainable.contains("language_model.model.layers.1.self_attn.q_proj.weight"))
        XCTAssertFalse(trainable.contains("language_model.model.layers.1.self_attn.k_proj.weight"))
        XCTAssertEqual(summary.trainable, connector.parameterCount + 2 * 16 * 16)
        XCTAssertEqual(summary.trainable + summary.frozen, model.parameterCount)
        XCTAssertTrue(summary.description.contains("language_model.model"), summary.description)
        XCTAssertThrowsError(try TrainableSet(["multimodal_projector.*"]).apply(to: model)) { XCTAssertTrue("\($0)".contains("multimodal_projector")) }
        XCTAssertTrue(TrainableSet.glob("*.lora_*", "a.b.lora_A.weight"))
        XCTAssertFalse(TrainableSet.glob("language_model.*", "modalities.x"))
    }
}
