import Foundation
import XCTest
import LoomCheckpoint
import LoomNN
import LoomTensor
@testable import LoomAdapters
@testable import LoomModels

/// LoRA on Linear and PEFT-format adapters: parity with peft's logits (fixtures from
/// tools/fixtures/make_peft_fixtures.py), merge/unmerge, gradients, frozen-base training, save/load.
final class LoRATests: XCTestCase {
    // MARK: Parity with peft

    func testPeftLlamaAdapterMatchesPeftLogits() throws {
        let io = try SafetensorsFile(path: Fixture.adapter("peft_llama") + "/io.safetensors")
        let ids = try io.intTensor("input_ids")
        let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
        let base = withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }
        let adapted = try LoRA.loadAdapter(from: Fixture.adapter("peft_llama"), into: lm, mapping: lm.keyMapping)
        XCTAssertEqual(adapted.count, 14)
        XCTAssertTrue(adapted.contains("model.layers.1.mlp.down_proj"))
        let logits = withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }
        let expected = try io.tensor("logits")
        Fixture.assertParity(logits, expected, "peft_llama logits")
        XCTAssertGreaterThan(Fixture.maxAbsDiff(base, expected), 0.5, "the adapter must change the logits")
        // Loaded for inference: nothing trains, as peft's from_pretrained without is_trainable.
        XCTAssertTrue(lm.trainableParameters.isEmpty)
    }

    func testPeftLlavaAdapterMatchesPeftLogits() throws {
        let dir = Fixture.adapter("peft_llava")
        let io = try SafetensorsFile(path: dir + "/io.safetensors")
        let llava = try LlavaForConditionalGeneration.load(directory: Fixture.baseModel("llava_default"))
        let adapted = try LoRA.loadAdapter(from: dir, into: llava, mapping: llava.adapterKeyMapping)
        XCTAssertEqual(adapted.count, 14)
        XCTAssertTrue(adapted.allSatisfy { $0.hasPrefix("model.language_model.layers.") }, "\(adapted)")
        // rank_pattern {down_proj: 2}, alpha_pattern {v_proj: 16}, rsLoRA: scale = alpha / √r.
        let layer = llava.model.languageModel.layers[0]
        XCTAssertEqual(layer.mlp.downProj.loraRank, 2)
        XCTAssertEqual(layer.mlp.downProj.loraScale, 8 / Float(2).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(layer.selfAttn.vProj.loraScale, 16 / 2, accuracy: 1e-6)
        XCTAssertEqual(layer.selfAttn.qProj.loraScale, 8 / 2, accuracy: 1e-6)
        let logits = try withoutGradients {
            try llava.logits(inputIds: try io.intTensor("input_ids"), pixelValues: try io.tensor("pixel_values"))
        }
        Fixture.assertParity(logits, try io.tensor("logits"), "peft_llava logits")
    }

    /// The same adapter keyed as transformers < 4.52 (`language_model.model.*`) and as the original
    /// LLaVA repository (`model.layers.*`, list targets) loads into the same layers.
    func testLlavaAdapterInEveryKeyLayout() throws {
        let source = Fixture.adapter("peft_llava")
        let io = try SafetensorsFile(path: source + "/io.safetensors")
        let weights = try SafetensorsFile(path: source + "/adapter_model.safetensors")
        let config = try String(contentsOfFile: source + "/adapter_config.json", encoding: .utf8)
        let listTargets = config.replacingOccurrences(of: #"".*language_model.*\\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)""#,
                                                      with: #"["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]"#)
        XCTAssertNotEqual(listTargets, config)
        for (from, to, configText) in [("base_model.model.model.language_model.", "base_model.model.language_model.model.", config),
                                       ("base_model.model.model.language_model.", "base_model.model.model.", listTargets)] {
            let dir = Fixture.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let renamed = try weights.names.map { name -> SafetensorsWriter.Entry in
                XCTAssertTrue(name.hasPrefix(from))
                return SafetensorsWriter.Entry(to + name.dropFirst(from.count), try weights.tensor(name))
            }
            try SafetensorsWriter.write(renamed, metadata: ["format": "pt"], to: dir + "/adapter_model.safetensors")
            try configText.write(toFile: dir + "/adapter_config.json", atomically: true, encoding: .utf8)
            let llava = try LlavaForConditionalGeneration.load(directory: Fixture.baseModel("llava_default"))
            let adapted = try LoRA.loadAdapter(from: dir, into: llava, mapping: llava.adapterKeyMapping, isTrainable: true)
            XCTAssertEqual(adapted.count, 14, to)
            XCTAssertEqual(llava.trainableParameters.count, 28, "isTrainable: the LoRA weights train")
            let logits = try withoutGradients {
                try llava.logits(inputIds: try io.intTensor("input_ids"), pixelValues: try io.tensor("pixel_values"))
            }
            Fixture.assertParity(logits, try io.tensor("logits"), "peft_llava keyed \(to)*")
        }
    }

    func testForwardPassTakesAnAdapter() throws {
        for (adapter, base) in [("peft_llama", "llama_gqa2_untied_linear_bf16"), ("peft_llava", "llava_default")] {
            let io = try SafetensorsFile(path: Fixture.adapter(adapter) + "/io.safetensors")
            let outputs = try ForwardPass.run(directory: Fixture.baseModel(base), inputs: io, inputsDescription: "io.safetensors",
                                              adapter: Fixture.adapter(adapter))
            XCTAssertEqual(outputs.map(\.name), ["logits"])
            Fixture.assertParity(outputs[0].tensor, try io.tensor("logits"), "loom forward --adapter \(adapter)")
        }
        let whisper = Fixture.baseModel("whisper_bare")
        XCTAssertThrowsError(try ForwardPass.run(directory: whisper, inputs: try SafetensorsFile(path: whisper + "/io.safetensors"),
                                                 inputsDescription: "io", adapter: Fixture.adapter("peft_llama"))) { error in
            XCTAssertTrue("\(error)".contains("whisper") && "\(error)".contains("adapter"), "\(error)")
        }
    }

    // MARK: The LoRA layer

    func testInitializationAndScaleFollowPEFT() {
        var rng = RandomGenerator(seed: 1)
        let layer = Linear(64, 5)
        layer.initializeParameters(std: 0.2, generator: &rng)
        let x = Tensor.randomNormal([3, 64], generator: &rng)
        let before = withoutGradients { layer(x) }
        layer.attachLoRA(rank: 4, alpha: 8, generator: &rng)
        let a = layer.loraA!.weight.scalars
        let bound = 1 / Float(64).squareRoot()                  // kaiming_uniform_(a=√5) on fan_in 64
        XCTAssertEqual(layer.loraA!.weight.shape, [4, 64])
        XCTAssertEqual(layer.loraB!.weight.shape, [5, 4])
        XCTAssertTrue(a.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(a.map(abs).max()!, 0.9 * bound)
        XCTAssertTrue(layer.loraB!.weight.scalars.allSatisfy { $0 == 0 })
        XCTAssertEqual(layer.loraScale, 2)
        XCTAssertEqual(withoutGradients { layer(x) }.scalars, before.scalars, "B = 0: the adapted layer starts as the base")
        XCTAssertEqual(layer.namedParameters().map(\.key), ["weight", "bias", "lora_A.weight", "lora_B.weight"])
        XCTAssertEqual(layer.trainableParameters.map(\.key), ["lora_A.weight", "lora_B.weight"])

        let rs = Linear(16, 8)
        rs.attachLoRA(rank: 4, alpha: 8, useRSLoRA: true, generator: &rng)
        XCTAssertEqual(rs.loraScale, 4)
        let gaussian = Linear(16, 8)
        gaussian.attachLoRA(rank: 4, alpha: 8, initialization: .gaussian, generator: &rng)
        XCTAssertTrue(gaussian.loraB!.weight.scalars.allSatisfy { $0 == 0 })
        XCTAssertGreaterThan(gaussian.loraA!.weight.scalars.map(abs).max()!, bound)  // N(0, 1/r²), unbounded
    }

    func testForwardIsBasePlusScaledLowRankPath() {
        let (layer, x) = Self.smallAdaptedLayer(dropout: 0)
        let expected = withoutGradients {
            linear(x, weight: layer.weight, bias: layer.bias)
                + matmul(matmul(x, layer.loraA!.weight.transposed()), layer.loraB!.weight.transposed()) * layer.loraScale
        }
        Fixture.assertClose(withoutGradients { layer(x) }, expected, 1e-6, "forward")
    }

    func testDropoutOnlyOnTheLoRAInputAndOnlyInTraining() {
        let (layer, x) = Self.smallAdaptedLayer(dropout: 0.5)
        let eval = withoutGradients { layer(x) }
        let (plain, _) = Self.smallAdaptedLayer(dropout: 0)
        Fixture.assertClose(eval, withoutGradients { plain(x) }, 0, "eval mode: no dropout")

        layer.setTraining(true)
        XCTAssertTrue(layer.loraA!.isTraining)
        var replay = layer.loraDropoutGenerator
        let dropped = dropout(x, probability: 0.5, generator: &replay)
        let expected = withoutGradients {
            linear(x, weight: layer.weight, bias: layer.bias)
                + linear(linear(dropped, weight: layer.loraA!.weight), weight: layer.loraB!.weight) * layer.loraScale
        }
        let first = withoutGradients { layer(x) }
        Fixture.assertClose(first, expected, 1e-6, "training: base path undropped, LoRA input dropped")
        XCTAssertEqual(layer.loraDropoutGenerator, replay, "one mask drawn per call")
        XCTAssertNotEqual(withoutGradients { layer(x) }.scalars, first.scalars, "a fresh mask next call")
        XCTAssertGreaterThan(Fixture.maxAbsDiff(first, eval), 1e-3)
    }

    func testMergeAndUnmerge() throws {
        let (layer, x) = Self.smallAdaptedLayer(dropout: 0.1)
        let original = layer.weight.scalars
        let unmerged = withoutGradients { layer(x) }
        layer.mergeLoRA()
        XCTAssertTrue(layer.isLoRAMerged)
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(withoutGradients { layer(x) }, unmerged), 1e-5)
        layer.setTraining(true)   // merged: the LoRA path (and its dropout) is skipped
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(withoutGradients { layer(x) }, unmerged), 1e-5)
        layer.setTraining(false)
        layer.mergeLoRA()         // no-op when merged
        layer.unmergeLoRA()
        XCTAssertFalse(layer.isLoRAMerged)
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(Tensor(shape: layer.weight.shape, scalars: original), layer.weight), 1e-6)
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(withoutGradients { layer(x) }, unmerged), 1e-5)

        // Over a whole model (peft's merge_adapter / unmerge_adapter).
        let io = try SafetensorsFile(path: Fixture.adapter("peft_llama") + "/io.safetensors")
        let ids = try io.intTensor("input_ids")
        let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
        try LoRA.loadAdapter(from: Fixture.adapter("peft_llama"), into: lm, mapping: lm.keyMapping)
        let before = withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }
        LoRA.merge(in: lm)
        XCTAssertTrue(LoRA.adaptedLayers(of: lm).allSatisfy { $0.linear.isLoRAMerged })
        let merged = withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(merged, before), 1e-5)
        Fixture.assertParity(merged, try io.tensor("logits"), "peft_llama merged")
        LoRA.unmerge(in: lm)
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }, before), 1e-5)
        // merge_and_unload: merged weights without the LoRA children.
        LoRA.merge(in: lm)
        LoRA.detach(from: lm)
        XCTAssertTrue(LoRA.adaptedLayers(of: lm).isEmpty)
        XCTAssertFalse(lm.namedParameters().contains { $0.key.contains("lora_") })
        XCTAssertLessThanOrEqual(Fixture.maxAbsDiff(withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }, before), 1e-5)
    }

    func testLoRAGradientsMatchFiniteDifferences() {
        let (layer, x) = Self.smallAdaptedLayer(dropout: 0)
        let a = layer.loraA!.weight, b = layer.loraB!.weight
        checkGradients([a, b, x], "LoRA A, B and input") { _ in layer(x) }
        XCTAssertNil(layer.weight.grad, "frozen base weight: no gradient buffer")
        XCTAssertNil(layer.bias!.grad)
        // Rank-3 input [B, T, in] too.
        let x3 = x.reshaped([2, 3, 5]).copied()
        checkGradients([a, b, x3], "LoRA on [B, T, in]") { _ in layer(x3) }
    }

    // MARK: Training with a frozen base

    func testSGDStepsReduceTheLossAndLeaveTheBaseBitIdentical() throws {
        let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
        let frozen = lm.namedParameters().map { ($0.key, $0.tensor.scalars) }
        var rng = RandomGenerator(seed: 11)
        let adapted = try LoRA.apply(to: lm, config: LoRAConfig(r: 4, loraAlpha: 8, loraDropout: 0.1), generator: &rng)
        XCTAssertEqual(adapted.count, 14)
        XCTAssertFalse(adapted.contains("lm_head"))
        let trainable = lm.trainableParameters
        XCTAssertEqual(trainable.count, 28)
        XCTAssertTrue(trainable.allSatisfy { $0.key.hasSuffix(".lora_A.weight") || $0.key.hasSuffix(".lora_B.weight") })

        let ids = IntTensor(shape: [2, 6], scalars: [5, 17, 33, 2, 90, 41, 7, 7, 64, 12, 100, 3])
        let targets = IntTensor(shape: [12], scalars: (0..<12).map { $0 % 6 == 5 ? -100 : ids.scalars[$0 + 1] })
        func loss() throws -> Tensor {
            let logits = lm.logits(embeddings: try lm.embed(ids))
            return try crossEntropy(logits: logits.reshaped([12, logits.shape[2]]), targets: targets)
        }
        lm.setTraining(true)   // dropout on the LoRA inputs
        var losses: [Float] = []
        for _ in 0..<8 {
            let l = try loss()
            losses.append(l.item)
            l.backward()
            for (key, p) in trainable {
                guard let g = p.grad?.scalars else { XCTFail("\(key) got no gradient"); continue }
                p.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] -= 0.5 * g[i] } }
                p.zeroGradient()
            }
        }
        lm.setTraining(false)
        let final = try withoutGradients { try loss() }.item
        XCTAssertLessThan(final, losses[0] - 0.05, "losses \(losses), final \(final)")
        let now = Dictionary(uniqueKeysWithValues: lm.namedParameters().map { ($0.key, $0.tensor) })
        for (key, values) in frozen {
            XCTAssertEqual(now[key]!.scalars.map(\.bitPattern), values.map(\.bitPattern), "\(key) changed")
            XCTAssertNil(now[key]!.grad, "\(key) got a gradient buffer")
        }
    }

    /// Gradient checkpointing on the decoder layers: full fine-tuning plus LoRA with dropout in
    /// training mode gives the same loss and gradient bits as without it (the dropout masks are
    /// replayed), and leaves the dropout generators where the plain run leaves them.
    func testGradientCheckpointingGivesTheSameGradientBits() throws {
        var results: [(loss: UInt32, grads: [String: [UInt32]], generators: [RandomGenerator])] = []
        for checkpointing in [false, true] {
            var rng = RandomGenerator(seed: 5)
            let lm = try LlamaForCausalLM(try tinyLlamaConfig(vocab: 40, hidden: 16))
            lm.initializeParameters(generator: &rng)
            try LoRA.apply(to: lm, config: LoRAConfig(r: 2, loraAlpha: 4, loraDropout: 0.3), generator: &rng)
            for (_, p) in lm.namedParameters() { p.requiresGradient = true }
            lm.model.gradientCheckpointing = checkpointing
            lm.setTraining(true)
            let ids = IntTensor(shape: [2, 7], scalars: [1, 5, 17, 33, 2, 9, 30, 1, 7, 7, 22, 12, 39, 3])
            let targets = IntTensor(shape: [14], scalars: (0..<14).map { $0 % 7 == 6 ? -100 : ids.scalars[$0 + 1] })
            var loss: Float = 0
            for _ in 0..<2 {   // two steps: the second starts from the generators the first left
                let logits = lm.logits(embeddings: try lm.embed(ids))
                let l = try crossEntropy(logits: logits.reshaped([14, 40]), targets: targets)
                loss = l.item
                l.backward()
            }
            let grads = Dictionary(uniqueKeysWithValues: lm.namedParameters().map { ($0.key, $0.tensor.grad!.scalars.map(\.bitPattern)) })
            results.append((loss.bitPattern, grads, LoRA.adaptedLayers(of: lm).map(\.linear.loraDropoutGenerator)))
        }
        XCTAssertEqual(results[0].loss, results[1].loss)
        XCTAssertEqual(results[0].grads.count, results[1].grads.count)
        for (key, g) in results[0].grads { XCTAssertEqual(g, results[1].grads[key], key) }
        XCTAssertEqual(results[0].generators, results[1].generators)
    }

    // MARK: Saving and loading

    func testSaveLoadRoundTripAndPeftLayout() throws {
        let base = Fixture.baseModel("llama_gqa2_untied_linear_bf16")
        let lm = try LlamaForCausalLM.load(directory: base)
        var rng = RandomGenerator(seed: 5)
        var config = LoRAConfig(r: 4, loraAlpha: 8, loraDropout: 0.05, baseModelNameOrPath: "Tests/LoomModelsTests/Fixtures/llama_gqa2_untied_linear_bf16")
        config.initLoRAWeights = .random   // B ≠ 0
        try LoRA.apply(to: lm, config: config, generator: &rng)
        let ids = IntTensor(shape: [1, 5], scalars: [3, 1, 4, 1, 5])
        let logits = withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }

        let dir = Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try LoRA.saveAdapter(of: lm, config: config, to: dir)
        let fresh = try LlamaForCausalLM.load(directory: base)
        try LoRA.loadAdapter(from: dir, into: fresh, mapping: fresh.keyMapping)
        let again = withoutGradients { fresh.logits(embeddings: try! fresh.embed(ids)) }
        XCTAssertEqual(again.scalars, logits.scalars, "save → load gives identical logits")

        // Keys, shapes and dtype exactly as peft's save_pretrained writes them for the same targets.
        let ours = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
        let peft = try SafetensorsFile(path: Fixture.adapter("peft_llama") + "/adapter_model.safetensors")
        XCTAssertEqual(ours.names, peft.names)
        for name in peft.names {
            XCTAssertEqual(ours.info(name)?.shape, peft.info(name)?.shape, name)
            XCTAssertEqual(ours.info(name)?.dtype, .f32, name)
        }
        XCTAssertEqual(ours.metadata, peft.metadata)
        XCTAssertTrue(ours.names.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))

        // Config: every field we write is one peft writes, with peft's JSON types and values.
        let written = try Fixture.json(dir + "/adapter_config.json")
        let reference = try Fixture.json(Fixture.adapter("peft_llama") + "/adapter_config.json")
        XCTAssertEqual(Set(written.keys).subtracting(reference.keys), [])
        for key in ["peft_type", "r", "lora_alpha", "lora_dropout", "bias", "use_rslora", "fan_in_fan_out", "use_dora",
                    "task_type", "inference_mode", "init_lora_weights", "base_model_name_or_path", "rank_pattern", "alpha_pattern"]
            where key != "init_lora_weights" {
            XCTAssertEqual(written[key] as? NSObject, reference[key] as? NSObject, key)
        }
        XCTAssertEqual(written["init_lora_weights"] as? Bool, false)
        XCTAssertEqual(Set(written["target_modules"] as! [String]), Set(reference["target_modules"] as! [String]))
        for key in ["modules_to_save", "exclude_modules", "layers_to_transform", "layers_pattern", "revision"] {
            XCTAssertTrue(written[key] is NSNull, key)
        }
        XCTAssertEqual(try LoRA.loadConfig(from: dir), config)
    }

    func testPeftConfigsDecodeAndMatchLikePEFT() throws {
        let llama = try LoRA.loadConfig(from: Fixture.adapter("peft_llama"))
        XCTAssertEqual(llama.r, 4)
        XCTAssertEqual(llama.loraAlpha, 8)
        XCTAssertEqual(llama.loraDropout, 0.05)
        XCTAssertEqual(llama.taskType, "CAUSAL_LM")
        XCTAssertEqual(llama.initLoRAWeights, .kaimingUniform)
        guard case .names(let names) = llama.targetModules else { return XCTFail("\(llama.targetModules)") }
        XCTAssertEqual(Set(names), Set(LoRAConfig.llamaTargetModules))
        XCTAssertTrue(llama.targets("model.layers.0.self_attn.q_proj"))
        XCTAssertTrue(llama.targets("q_proj"))
        XCTAssertFalse(llama.targets("model.layers.0.self_attn.q_proj2"))
        XCTAssertFalse(llama.targets("lm_head"))

        let llava = try LoRA.loadConfig(from: Fixture.adapter("peft_llava"))
        XCTAssertTrue(llava.useRSLoRA)
        XCTAssertEqual(llava.rankPattern, ["down_proj": 2])
        XCTAssertEqual(llava.alphaPattern, ["v_proj": 16])
        XCTAssertTrue(llava.targets("model.language_model.layers.1.mlp.up_proj"))
        XCTAssertFalse(llava.targets("model.vision_tower.encoder.layers.0.self_attn.q_proj"))  // fullmatch
        XCTAssertEqual(try llava.rank(for: "model.language_model.layers.1.mlp.down_proj"), 2)
        XCTAssertEqual(try llava.rank(for: "model.language_model.layers.1.mlp.up_proj"), 4)
        XCTAssertEqual(try llava.scale(for: "model.language_model.layers.1.self_attn.v_proj"), 8)

        var restricted = LoRAConfig()
        restricted.layersToTransform = [1]
        XCTAssertTrue(restricted.targets("model.layers.1.mlp.up_proj"))
        XCTAssertFalse(restricted.targets("model.layers.0.mlp.up_proj"))
        restricted.excludeModules = .names(["up_proj"])
        XCTAssertFalse(restricted.targets("model.layers.1.mlp.up_proj"))
        XCTAssertTrue(LoRAConfig(targetModules: .pattern("all-linear")).targets("model.layers.0.mlp.up_proj"))
        XCTAssertFalse(LoRAConfig(targetModules: .pattern("all-linear")).targets("lm_head"))
    }

    // MARK: Bad adapter files

    func testBadConfigsAreRejectedNamingFileAndKey() throws {
        let reference = try String(contentsOfFile: Fixture.adapter("peft_llama") + "/adapter_config.json", encoding: .utf8)
        let cases: [(from: String, to: String, mentions: String)] = [
            ("\"bias\": \"none\"", "\"bias\": \"all\"", "bias"),
            ("\"use_dora\": false", "\"use_dora\": true", "use_dora"),
            ("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", "modules_to_save"),
            ("\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true", "fan_in_fan_out"),
            ("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "peft_type"),
            ("\"layer_replication\": null", "\"layer_replication\": [[0, 2]]", "layer_replication"),
            ("\"init_lora_weights\": true", "\"init_lora_weights\": \"pissa\"", "init_lora_weights"),
            ("\"r\": 4", "\"r\": \"four\"", "r"),
        ]
        for c in cases {
            XCTAssertTrue(reference.contains(c.from), c.from)
            let dir = try Fixture.copyOfPeftLlama()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try reference.replacingOccurrences(of: c.from, with: c.to).write(toFile: dir + "/adapter_config.json", atomically: true, encoding: .utf8)
            let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
            XCTAssertThrowsError(try LoRA.loadAdapter(from: dir, into: lm, mapping: lm.keyMapping), c.to) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(dir + "/adapter_config.json") && message.contains(c.mentions), message)
            }
            XCTAssertTrue(LoRA.adaptedLayers(of: lm).isEmpty, "nothing attached on error")
        }
    }

    func testBadWeightFilesAreRejectedNamingFileAndKey() throws {
        let source = try SafetensorsFile(path: Fixture.adapter("peft_llama") + "/adapter_model.safetensors")
        let prefix = "base_model.model.model.layers.0.self_attn."
        func entries(_ edit: (inout [String: Tensor]) -> Void) throws -> [String: Tensor] {
            var all = Dictionary(uniqueKeysWithValues: try source.names.map { ($0, try source.tensor($0)) })
            edit(&all)
            return all
        }
        let cases: [(tensors: [String: Tensor], mentions: [String])] = [
            (try entries { $0["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = Tensor(zeros: [4, 32]) },
             ["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", "no Linear layer model.layers.7.self_attn.q_proj"]),
            (try entries { $0[prefix + "q_proj.lora_magnitude_vector"] = Tensor(zeros: [32]) },
             [prefix + "q_proj.lora_magnitude_vector", "unexpected"]),
            (try entries { $0[prefix + "k_proj.lora_B.weight"] = Tensor(zeros: [16, 3]) },
             [prefix + "k_proj.lora_B.weight", "[16, 3]", "[16, 4]", "mis-shaped"]),
            (try entries { $0[prefix + "v_proj.lora_A.weight"] = nil },
             [prefix + "v_proj.lora_A.weight", "missing"]),
            (try entries { $0["model.layers.0.self_attn.q_proj.lora_A.weight"] = Tensor(zeros: [4, 32]) },
             ["model.layers.0.self_attn.q_proj.lora_A.weight", "base_model.model."]),
            (try entries { $0["base_model.model.model.embed_tokens.lora_embedding_A"] = Tensor(zeros: [4, 112]) },
             ["lora_embedding_A"]),
        ]
        for c in cases {
            let dir = try Fixture.copyOfPeftLlama()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = dir + "/adapter_model.safetensors"
            try SafetensorsWriter.write(c.tensors, to: file)
            let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
            XCTAssertThrowsError(try LoRA.loadAdapter(from: dir, into: lm, mapping: lm.keyMapping)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(file), message)
                for m in c.mentions { XCTAssertTrue(message.contains(m), "\(m) not in: \(message)") }
            }
            XCTAssertTrue(LoRA.adaptedLayers(of: lm).isEmpty, "nothing attached on error")
        }

        // A target_modules that does not select a stored layer.
        let dir = try Fixture.copyOfPeftLlama()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try String(contentsOfFile: dir + "/adapter_config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"down_proj\"", with: "\"q_proj\"").write(toFile: dir + "/adapter_config.json", atomically: true, encoding: .utf8)
        let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
        XCTAssertThrowsError(try LoRA.loadAdapter(from: dir, into: lm, mapping: lm.keyMapping)) { error in
            XCTAssertTrue("\(error)".contains("mlp.down_proj.lora_A.weight") && "\(error)".contains("target_modules"), "\(error)")
        }
    }

    func testMissingFilesAreNamed() throws {
        let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel("llama_gqa2_untied_linear_bf16"))
        let dir = try Fixture.copyOfPeftLlama()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/adapter_config.json")
        XCTAssertThrowsError(try LoRA.loadAdapter(from: dir, into: lm)) { error in
            XCTAssertTrue("\(error)".contains(dir) && "\(error)".contains("adapter_config.json"), "\(error)")
        }
        let other = try Fixture.copyOfPeftLlama()
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.removeItem(atPath: other + "/adapter_model.safetensors")
        XCTAssertThrowsError(try LoRA.loadAdapter(from: other, into: lm)) { error in
            XCTAssertTrue("\(error)".contains(other) && "\(error)".contains("adapter_model.safetensors"), "\(error)")
        }
    }

    // MARK: The other direction: a Loom-written adapter for peft

    /// Writes Loom adapters (with non-zero B) and Loom's logits for tools/fixtures/make_peft_fixtures.py
    /// --check-swift: to $LOOM_PEFT_CHECK_DIR/{llama,llava} when set (kept), else to a temporary folder.
    /// Here it checks that each loads back through `loom forward --adapter` to the same logits.
    func testExportsAdapterForPeftCheck() throws {
        let keep = ProcessInfo.processInfo.environment["LOOM_PEFT_CHECK_DIR"]
        let root = keep ?? Fixture.temporaryDirectory()
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: root) } }
        var rng = RandomGenerator(seed: 21)
        func randomizeB(_ module: Module) {
            for (_, layer) in LoRA.adaptedLayers(of: module) {
                Kernels.copy(Tensor.randomNormal(layer.loraB!.weight.shape, std: 0.1, generator: &rng), into: layer.loraB!.weight)
            }
        }

        // LLaMA: list targets.
        let llamaBase = "llama_gqa2_untied_linear_bf16"
        let lm = try LlamaForCausalLM.load(directory: Fixture.baseModel(llamaBase))
        let llamaConfig = LoRAConfig(r: 4, loraAlpha: 8, baseModelNameOrPath: "Tests/LoomModelsTests/Fixtures/" + llamaBase)
        try LoRA.apply(to: lm, config: llamaConfig, generator: &rng)
        randomizeB(lm)
        let ids = IntTensor(shape: [2, 6], scalars: [1, 20, 33, 47, 5, 90, 2, 8, 111, 64, 0, 17])
        let llamaLogits = withoutGradients { lm.logits(embeddings: try! lm.embed(ids)) }
        try LoRA.saveAdapter(of: lm, config: llamaConfig, to: root + "/llama")
        try SafetensorsWriter.write([.init("input_ids", ids), .init("logits", llamaLogits)], to: root + "/llama/io.safetensors")

        // LLaVA: regex over the language model, rsLoRA, rank and alpha patterns.
        let llava = try LlavaForConditionalGeneration.load(directory: Fixture.baseModel("llava_default"))
        var llavaConfig = LoRAConfig(r: 4, loraAlpha: 8, targetModules: .pattern(#".*language_model.*\.(q_proj|v_proj|down_proj)"#),
                                     useRSLoRA: true, taskType: nil, baseModelNameOrPath: "Tests/LoomModelsTests/Fixtures/llava_default")
        llavaConfig.rankPattern = ["down_proj": 2]
        llavaConfig.alphaPattern = ["v_proj": 16]
        let adapted = try LoRA.apply(to: llava, config: llavaConfig, generator: &rng)
        XCTAssertEqual(adapted.count, 6)
        XCTAssertTrue(adapted.allSatisfy { $0.hasPrefix("model.language_model.") })
        randomizeB(llava)
        let io = try SafetensorsFile(path: Fixture.adapter("peft_llava") + "/io.safetensors")
        let llavaIds = try io.intTensor("input_ids"), pixels = try io.tensor("pixel_values")
        let llavaLogits = try withoutGradients { try llava.logits(inputIds: llavaIds, pixelValues: pixels) }
        try LoRA.saveAdapter(of: llava, config: llavaConfig, to: root + "/llava")
        try SafetensorsWriter.write([.init("input_ids", llavaIds), .init("pixel_values", pixels), .init("logits", llavaLogits)],
                                    to: root + "/llava/io.safetensors")
        let peftKeys = Set(try SafetensorsFile(path: Fixture.adapter("peft_llava") + "/adapter_model.safetensors").names)
        XCTAssertTrue(Set(try SafetensorsFile(path: root + "/llava/adapter_model.safetensors").names).isSubset(of: peftKeys),
                      "LLaVA keys as peft writes them (base_model.model.model.language_model.…)")

        for (name, base) in [("llama", llamaBase), ("llava", "llava_default")] {
            let io = try SafetensorsFile(path: root + "/\(name)/io.safetensors")
            let out = try ForwardPass.run(directory: Fixture.baseModel(base), inputs: io, inputsDescription: "io", adapter: root + "/" + name)
            XCTAssertEqual(out[0].tensor.scalars, try io.tensor("logits").scalars, name)
        }
        if keep != nil { print("wrote \(root)/llama and \(root)/llava for make_peft_fixtures.py --check-swift") }
    }

    // MARK: Helpers

    /// Linear(5 → 4, bias) with a rank-3 LoRA whose A and B are both non-zero, and an input [6, 5].
    static func smallAdaptedLayer(dropout: Float) -> (Linear, Tensor) {
        var rng = RandomGenerator(seed: 42)
        let layer = Linear(5, 4)
        layer.initializeParameters(std: 0.5, generator: &rng)
        Kernels.copy(Tensor.randomNormal([4], std: 0.3, generator: &rng), into: layer.bias!)
        layer.attachLoRA(rank: 3, alpha: 6, dropout: dropout, initialization: .random, generator: &rng)
        return (layer, Tensor.randomNormal([6, 5], generator: &rng))
    }
}

/// Fixture locations and the checks these tests share (kept private to this file's names).
private enum Fixture {
    /// The package root, from this file's path (the base models are LoomModelsTests' fixtures).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func adapter(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
    }

    static func baseModel(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/LoomModelsTests/Fixtures/\(name)").path
    }

    static func temporaryDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loom-lora-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A writable copy of the peft_llama adapter folder.
    static func copyOfPeftLlama() throws -> String {
        let dir = temporaryDirectory()
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            try FileManager.default.copyItem(atPath: adapter("peft_llama") + "/" + file, toPath: dir + "/" + file)
        }
        return dir
    }

    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    static func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "\(a.shape) vs \(b.shape)")
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1).isNaN ? .infinity : abs($1.0 - $1.1)) }
    }

    static func assertClose(_ a: Tensor, _ b: Tensor, _ tolerance: Float, _ label: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(maxAbsDiff(a, b), tolerance, label, file: file, line: line)
    }

    /// The parity bar of LoomModelsTests: max |diff| ≤ 2e-4 · max(1, max |expected|).
    @discardableResult
    static func assertParity(_ actual: Tensor, _ expected: Tensor, _ label: String,
                             file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(actual.shape, expected.shape, "\(label): shape", file: file, line: line)
        guard actual.shape == expected.shape else { return .infinity }
        let diff = maxAbsDiff(actual, expected)
        let maxExpected = expected.scalars.reduce(0) { max($0, abs($1)) }
        XCTAssertLessThanOrEqual(diff, 2e-4 * max(1, maxExpected), "\(label): max |diff| \(diff)", file: file, line: line)
        print("parity \(label): max |diff| = \(diff), max |expected| = \(maxExpected)")
        return diff
    }

}
