import Foundation
import LoomData
import LoomModels
import LoomTensor
import LoomTokenizer

/// Answers conversations with a trained model: the template's generation prompt, placeholders
/// expanded and filled with the media's connector outputs, then KV-cache generation.
public struct Responder {
    public let run: TrainingRun
    public let template: ChatTemplate
    public let systemPrompt: String?
    public var options: GenerationOptions

    /// Answers in `stage`'s template and system prompt, as that stage trained.
    public init(run: TrainingRun, stage: StageRecipe, options: GenerationOptions = GenerationOptions(maxNewTokens: 64)) {
        self.run = run
        template = stage.template
        systemPrompt = stage.systemPrompt
        self.options = options
    }

    /// The reply to `turns` (ending with a user turn) whose placeholders use `media` (files per
    /// modality, in placeholder order).
    public func reply(to turns: [Conversation.Turn], media: [String: [String]]) throws -> String {
        let tokenizer = run.tokenizer
        let conversations = ConversationTokenizer(template: template, tokenizer: tokenizer, placeholders: run.placeholders,
                                                  legacy: tokenizer.isLegacy, systemPrompt: systemPrompt,
                                                  padTokenId: tokenizer.padTokenId)
        let prompt = try conversations.generationPrompt(turns)
        var tokensPerItem: [String: Int] = [:]
        var inputs: [String: [Tensor]] = [:]
        for (modality, files) in media {
            guard let binding = run.model.modality(modality), let process = run.processors[modality] else {
                throw RecipeError("this model has no \(modality) modality (it has: \(run.model.modalities.map(\.name).joined(separator: ", ")))")
            }
            inputs[modality] = try files.map { try process($0) }
            if let first = inputs[modality]?.first { tokensPerItem[modality] = binding.tokenCount(inputShape: first.shape) }
        }
        let collator = Collator(tokensPerItem: tokensPerItem, placeholders: run.placeholders, maxLength: Int.max / 2,
                                padTokenId: tokenizer.padTokenId ?? 0)
        let labels = [Int](repeating: TokenizedSample.ignoreIndex, count: prompt.count)
        let sample = TokenizedSample(id: "prompt", ids: prompt, labels: labels, media: media)
        let expanded = try collator.expand(sample, requireSupervision: false)
        guard expanded.items.count == media.values.reduce(0, { $0 + $1.count }) else {
            throw RecipeError("the prompt has \(expanded.items.count) placeholders for \(media.values.reduce(0, { $0 + $1.count })) media files")
        }
        let batch = collator.collate([expanded], sampleIds: ["prompt"], inputs: inputs)
        // The template's end-of-turn tokens, unless the caller chose its own.
        var options = self.options
        if options.stopTokens == nil {
            options.stopTokens = template == .chatml ? [tokenizer.tokenToId("<|im_end|>"), tokenizer.eosTokenId].compactMap { $0 }
                : tokenizer.eosTokenId.map { [$0] } ?? []
        }
        let tokens = try withoutGradients { () -> [Int] in
            let mediaInputs = batch.modalityInputs
            let (embeddings, mask) = try run.model.inputs(inputIds: batch.inputIds, media: mediaInputs, attentionMask: nil)
            return try Generation.generate(run.model.languageModel, promptEmbeddings: embeddings, attentionMask: mask, options: options)[0]
        }
        let stops = Set(options.stopTokens ?? [])
        var text = tokenizer.decode(tokens.filter { !stops.contains($0) }, skipSpecialTokens: true)
        if template == .plain, let newline = text.firstIndex(of: "\n") { text = String(text[..<newline]) }  // a caption is one line
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
