import LoomCheckpoint
import LoomNN
import LoomTensor

// LLaVA (LlavaForConditionalGeneration): CLIP tower → projector → features spliced into the token
// embeddings at the image placeholder → LLaMA-family decoder.
// Letters: B batch, T tokens, I images, P vision tokens, C vision width, M image tokens, D LM width.

/// LLaVA's `mlp2x_gelu` projector: linear_2(act(linear_1(x))).
public final class LlavaMultiModalProjector: Module {
    @Child("linear_1") public var linear1: Linear
    @Child("linear_2") public var linear2: Linear
    let activation: Activation

    public init(visionHidden: Int, textHidden: Int, activation: Activation = .gelu, bias: Bool = true) {
        self.activation = activation
        super.init()
        _linear1.wrappedValue = Linear(visionHidden, textHidden, bias: bias)
        _linear2.wrappedValue = Linear(textHidden, textHidden, bias: bias)
    }

    /// [..., C] → [..., D]
    public func callAsFunction(_ x: Tensor) -> Tensor { linear2(activation(linear1(x))) }

    /// Keys of the original LLaVA repository's projector file (`mm_projector.bin` saved as
    /// safetensors: `model.mm_projector.0/2.*`, or without the `model.` prefix).
    public static let originalRepositoryMapping = KeyMapping(renames: [
        ("model.mm_projector.0.", "linear_1."), ("model.mm_projector.2.", "linear_2."),
        ("mm_projector.0.", "linear_1."), ("mm_projector.2.", "linear_2."),
    ])

    /// Loads a projector saved by the original LLaVA repository.
    public func loadOriginalRepositoryWeights(path: String) throws {
        try load(from: SafetensorsFile(path: path), mapping: Self.originalRepositoryMapping, description: path)
    }
}

/// The part of LLaVA under `model.*`.
public final class LlavaModel: Module {
    @Child public var visionTower: CLIPVisionModel
    @Child public var multiModalProjector: LlavaMultiModalProjector
    @Child public var languageModel: LlamaModel

    init(_ config: LlavaConfig) throws {
        visionTower = CLIPVisionModel(config.visionConfig)
        multiModalProjector = LlavaMultiModalProjector(
            visionHidden: config.visionConfig.hiddenSize * config.visionFeatureLayers.count,
            textHidden: config.textConfig.hiddenSize, activation: config.projectorHiddenAct, bias: config.projectorBias)
        languageModel = try LlamaModel(config.textConfig)
    }
}

public final class LlavaForConditionalGeneration: Module, CausalLanguageModel {
    @Child public var model: LlavaModel
    /// Absent when tied to the token embeddings.
    @Child public var lmHead: Linear?
    public let config: LlavaConfig

    public init(_ config: LlavaConfig) throws {
        self.config = config
        model = try LlavaModel(config)
        lmHead = config.tieWordEmbeddings ? nil : Linear(config.textConfig.hiddenSize, config.textConfig.vocabSize, bias: false)
    }

    /// Projected image features [I, M, D] for pixel_values [I, 3, S, S].
    public func imageFeatures(_ pixelValues: Tensor) throws -> Tensor {
        let tower = model.visionTower
        let states = tower.config.numHiddenLayers + 1
        let resolved = config.visionFeatureLayers.map { $0 < 0 ? states + $0 : $0 }
        var selected: Tensor                                                   // [I, P+1, C·layers]
        if resolved.count == 1 {
            selected = try tower.hiddenState(pixelValues, at: resolved[0])
        } else {
            let out = try tower(pixelValues, outputHiddenStates: true, layerCount: resolved.max()!)
            selected = concat(resolved.map { out.hiddenStates[$0] }, axis: -1)
        }
        if config.visionFeatureSelectStrategy == "default" {
            selected = selected.sliced(axis: 1, 1..<selected.shape[1])        // drop CLS
        }
        return model.multiModalProjector(selected)
    }

    /// Token embeddings [B, T, D] with image features written into the placeholder positions, in
    /// order of appearance (row-major over the batch), as transformers' masked_scatter.
    public func inputEmbeddings(inputIds: IntTensor, pixelValues: Tensor?) throws -> Tensor {
        guard inputIds.shape.count == 2 else { throw TensorError("input_ids must be [batch, length], got \(describe(inputIds.shape))") }
        let (b, t) = (inputIds.shape[0], inputIds.shape[1])
        let vocab = config.textConfig.vocabSize
        let slots = inputIds.scalars.indices.filter { inputIds.scalars[$0] == config.imageTokenId }
        // A placeholder id past the vocabulary is embedded as 0 and overwritten below.
        let textIds = IntTensor(shape: inputIds.shape, scalars: inputIds.scalars.map { $0 == config.imageTokenId && $0 >= vocab ? 0 : $0 })
        let embeddings = try model.languageModel.embedTokens(textIds)         // [B, T, D]
        guard let pixelValues else {
            if !slots.isEmpty { throw TensorError("input_ids hold \(slots.count) image tokens (id \(config.imageTokenId)) but no pixel_values were given") }
            return embeddings
        }
        let features = try imageFeatures(pixelValues)                         // [I, M, D]
        let rows = features.reshaped([-1, features.shape[2]])                  // [I·M, D]
        guard rows.shape[0] == slots.count else {
            throw TensorError("image features and image tokens do not match: \(slots.count) image tokens (id \(config.imageTokenId)) in input_ids \(describe(inputIds.shape)), \(rows.shape[0]) features from \(features.shape[0]) image(s) of \(features.shape[1]) tokens")
        }
        let d = embeddings.shape[2]
        return try scatteringRows(embeddings.reshaped([b * t, d]), rows, at: slots).reshaped([b, t, d])
    }

    /// Logits [B, T, V] for input_ids with image placeholders and the images' pixel_values.
    public func logits(inputIds: IntTensor, pixelValues: Tensor?, attentionMask: [Bool]? = nil) throws -> Tensor {
        logits(embeddings: try inputEmbeddings(inputIds: inputIds, pixelValues: pixelValues), attentionMask: attentionMask, cache: nil)
    }

    /// transformers' `LlavaForConditionalGeneration(..., labels=labels).loss`: next-token
    /// cross-entropy for unshifted `labels` [B, T] (−100 ignored), the head applied to the supervised
    /// positions only (`NextTokenLoss`).
    public func loss(inputIds: IntTensor, pixelValues: Tensor?, labels: IntTensor, attentionMask: [Bool]? = nil,
                     reduction: LossReduction = .mean) throws -> Tensor {
        let embeddings = try inputEmbeddings(inputIds: inputIds, pixelValues: pixelValues)
        return try NextTokenLoss.loss(labels: labels, inputShape: Array(embeddings.shape.prefix(2)), reduction: reduction, head: head) { lastPositions in
            model.languageModel(embeddings: embeddings, attentionMask: attentionMask, lastPositions: lastPositions)
        }
    }

    // MARK: CausalLanguageModel (text continuation after the prompt)

    public func embed(_ ids: IntTensor) throws -> Tensor { try model.languageModel.embedTokens(ids) }

    public func logits(embeddings: Tensor, attentionMask: [Bool]? = nil, cache: KVCache? = nil) -> Tensor {
        head(model.languageModel(embeddings: embeddings, attentionMask: attentionMask, cache: cache))
    }

    public func lastLogits(embeddings: Tensor, attentionMask: [Bool]? = nil, cache: KVCache? = nil) -> Tensor {
        head(model.languageModel(embeddings: embeddings, attentionMask: attentionMask, cache: cache, lastPositions: 1))
    }

    func head(_ h: Tensor) -> Tensor { lmHead.map { $0(h) } ?? linear(h, weight: model.languageModel.embedTokens.weight) }

    public func makeCache(batchSize: Int) -> KVCache {
        let text = config.textConfig
        return KVCache(layers: text.numHiddenLayers, batchSize: batchSize, kvHeads: text.numKeyValueHeads, headDim: text.headDim)
    }

    public var eosTokenIds: [Int] { config.textConfig.eosTokenIds }
}

extension LlavaForConditionalGeneration {
    /// The checkpoint layouts transformers has written over time, mapped onto this module's
    /// (`model.vision_tower.vision_model.*`, `model.multi_modal_projector.*`, `model.language_model.*`,
    /// `lm_head.*`, as 4.52+ saves): before 4.52, `language_model.model.*`, `language_model.lm_head.*`,
    /// `vision_tower.vision_model.*`, `multi_modal_projector.*`; and 5.x, which saves the tower's
    /// children directly under `vision_tower.*`.
    public var keyMapping: KeyMapping {
        let towerChildren = ["embeddings.", "pre_layrnorm.", "encoder.", "post_layernorm."]
        var renames: [(from: String, to: String)] = [
            ("language_model.model.", "model.language_model."),
            ("language_model.lm_head.", "lm_head."),
            ("vision_tower.vision_model.", "model.vision_tower.vision_model."),
            ("multi_modal_projector.", "model.multi_modal_projector."),
        ]
        renames += towerChildren.map { ("vision_tower." + $0, "model.vision_tower.vision_model." + $0) }
        renames += towerChildren.map { ("model.vision_tower." + $0, "model.vision_tower.vision_model." + $0) }
        var ignored: [KeyPattern] = [.suffix(".rotary_emb.inv_freq"), .suffix("embeddings.position_ids")]
        if config.tieWordEmbeddings { ignored += [.exact("lm_head.weight"), .exact("language_model.lm_head.weight")] }
        return KeyMapping(renames: renames, ignored: ignored)
    }

    /// Loads a `llava` folder.
    public static func load(directory: String) throws -> LlavaForConditionalGeneration {
        let folder = try PretrainedFolder(directory)
        let model = try LlavaForConditionalGeneration(folder.config(LlavaConfig.self))
        try folder.load(model, mapping: model.keyMapping)
        return model
    }
}
