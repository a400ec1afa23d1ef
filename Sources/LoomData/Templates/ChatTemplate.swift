import Foundation

/// Conversation templates and their label masks, as LLaVA trains with them:
/// - `plain` (stage 1): the human turn becomes just its placeholders; the caption and its newline are
///   supervised (LLaVA's `preprocess_plain`).
/// - `vicuna_v1` (stage 2, LLaVA-1.5): "SYSTEM USER: … ASSISTANT: …</s>USER: …"; assistant replies and
///   their "</s>" are supervised, found by re-tokenizing each round (LLaVA's `preprocess_v1`). As in
///   LLaVA's `Conversation.get_prompt`, an empty message is written as "ROLE:" with no space and no
///   separator (so an empty reply supervises nothing, and an empty last reply or an empty human turn
///   is a tokenization mismatch, as in LLaVA).
/// - `chatml` (Qwen-style): "<|im_start|>role\n…<|im_end|>\n"; assistant content, "<|im_end|>" and the
///   newline are supervised. The "<|im_start|>assistant\n" header is encoded apart from the content
///   and masked. (LLaVA-NeXT's `preprocess_qwen` also supervises the header and every <|im_start|>,
///   <|im_end|> and "\n" token of system and user turns; Loom supervises only what the assistant has
///   to produce. Tests/LoomDataTests/TemplateParityTests.swift records the difference.)
///
/// Text is handled as LLaVA's Python does it (code points, `str.strip()`; see `PythonText`).
public enum ChatTemplate: String, Codable, Sendable, CaseIterable {
    case plain
    case vicunaV1 = "vicuna_v1"
    case chatml

    public static let vicunaSystem = "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions."
    public static let chatmlSystem = "You are a helpful assistant."
}

/// Turns conversations into token ids and labels with one template.
public struct ConversationTokenizer {
    public var template: ChatTemplate
    public var tokenizer: TextEncoder
    /// The enabled modalities' placeholders.
    public var placeholders: [Placeholder]
    /// tokenizer_config.json's `legacy` (LLaVA shortens every round after the first by one token when
    /// it is false).
    public var legacy: Bool
    /// Overrides the template's system prompt.
    public var systemPrompt: String?
    /// Ids equal to this are not counted as content when LLaVA checks for a tokenization mismatch
    /// (its pad id, the unk token for LLaMA tokenizers).
    public var padTokenId: Int?

    public init(template: ChatTemplate, tokenizer: TextEncoder, placeholders: [Placeholder], legacy: Bool = true,
                systemPrompt: String? = nil, padTokenId: Int? = nil) {
        self.template = template
        self.tokenizer = tokenizer
        self.placeholders = placeholders
        self.legacy = legacy
        self.systemPrompt = systemPrompt
        self.padTokenId = padTokenId
    }

    public func tokenize(_ conversation: Conversation) throws -> TokenizedSample {
        let turns = try validated(conversation)
        var sample: TokenizedSample
        switch template {
        case .plain: sample = try plain(conversation, turns)
        case .vicunaV1: sample = try vicuna(conversation, turns)
        case .chatml: sample = try chatml(conversation, turns)
        }
        for i in sample.ids.indices where sample.ids[i] < 0 { sample.labels[i] = TokenizedSample.ignoreIndex }
        guard sample.supervisedCount > 0 else {
            throw SampleError(.noSupervisedTokens, sample: conversation.id, "every label is masked")
        }
        return sample
    }

    // MARK: Checks shared by all templates

    /// The turns without a leading non-human turn (as LLaVA drops it), after checking placeholders.
    func validated(_ conversation: Conversation) throws -> [Conversation.Turn] {
        var turns = conversation.turns
        let id = conversation.id
        guard !turns.isEmpty, turns.contains(where: { !$0.value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) else {
            throw SampleError(.emptyConversation, sample: id, "no turns")
        }
        for turn in turns where turn.role == nil {
            throw SampleError(.badRoles, sample: id, "unknown speaker \"\(turn.from)\"")
        }
        var system: Conversation.Turn?
        if turns.first?.role == .system { system = turns.removeFirst() }
        if turns.first?.role != .user { turns = Array(turns.dropFirst()) }
        guard !turns.isEmpty else { throw SampleError(.emptyConversation, sample: id, "no human turn") }
        for (index, turn) in turns.enumerated() where turn.role != (index % 2 == 0 ? .user : .assistant) {
            throw SampleError(.badRoles, sample: id, "turn \(index) is from \"\(turn.from)\"")
        }
        guard turns.contains(where: { $0.role == .assistant }) else {
            throw SampleError(.noSupervisedTokens, sample: id, "no gpt turn to learn from")
        }
        let enabled = Set(placeholders.map(\.text))
        let allText = turns.map(\.value).joined(separator: "\n")
        for known in Placeholder.known where !enabled.contains(known) && PythonText.contains(allText, known) {
            throw SampleError(.unknownPlaceholder, sample: id, "\(known) appears but its modality is not enabled")
        }
        for modality in conversation.media.keys where !placeholders.contains(where: { $0.modality == modality }) {
            throw SampleError(.unknownPlaceholder, sample: id, "it has \(modality) files but the \(modality) modality is not enabled")
        }
        for placeholder in placeholders {
            let count = PythonText.count(placeholder.text, in: allText)
            let files = conversation.media[placeholder.modality]?.count ?? 0
            guard count == files else {
                throw SampleError(.placeholderCount, sample: id, "\(count) \(placeholder.text) placeholder(s) for \(files) \(placeholder.modality) file(s)")
            }
        }
        return (system.map { [$0] } ?? []) + turns
    }

    /// LLaVA's `preprocess_multimodal`: a turn with one placeholder gets it moved to the front,
    /// followed by a newline (`"<image>\n" + value.replace("<image>", "").strip()`, stripped, with
    /// Python's notion of whitespace). Turns with several placeholders (a Loom extension; LLaVA-1.5
    /// has one image per sample) keep them where they are.
    func movingPlaceholderFirst(_ value: String) -> String {
        for placeholder in placeholders {
            guard PythonText.count(placeholder.text, in: value) == 1 else { continue }
            let rest = PythonText.strip(PythonText.replace(value, placeholder.text, with: ""))
            return PythonText.strip(placeholder.text + "\n" + rest)
        }
        return value
    }

    func encode(_ text: String) -> [Int] { tokenizer.encodeWithPlaceholders(text, placeholders: placeholders) }

    // MARK: Prompts for generation

    /// The ids (placeholders as markers) that ask the model for the next assistant reply after
    /// `turns` (which end with a user turn): vicuna "… USER: q ASSISTANT:", chatml
    /// "…<|im_start|>assistant\n", plain just the placeholders of the user turn (the caption follows).
    public func generationPrompt(_ turns: [Conversation.Turn], systemPrompt override: String? = nil) throws -> [Int] {
        guard let last = turns.last, last.role == .user else {
            throw SampleError(.template, sample: "prompt", "a generation prompt must end with a user turn")
        }
        switch template {
        case .plain:
            return encode(placeholderSequence(in: last.value))
        case .vicunaV1:
            var prompt = (override ?? systemPrompt ?? ChatTemplate.vicunaSystem) + " "
            for turn in turns where turn.role != .system {
                prompt += turn.role == .user ? "USER: " + movingPlaceholderFirst(turn.value) + " " : "ASSISTANT: " + turn.value + "</s>"
            }
            return encode(prompt + "ASSISTANT:")
        case .chatml:
            var ids = Array(tokenizer.encode("", addSpecialTokens: true).prefix(1))
            let system = override ?? systemPrompt ?? ChatTemplate.chatmlSystem
            ids += tokenizer.encodeWithPlaceholders("<|im_start|>system\n" + system + "<|im_end|>\n", placeholders: placeholders, addSpecialTokens: false)
            for turn in turns where turn.role != .system {
                let role = turn.role == .user ? "user" : "assistant"
                let value = turn.role == .user ? movingPlaceholderFirst(turn.value) : turn.value
                ids += tokenizer.encodeWithPlaceholders("<|im_start|>\(role)\n" + value + "<|im_end|>\n", placeholders: placeholders, addSpecialTokens: false)
            }
            return ids + tokenizer.encodeWithPlaceholders("<|im_start|>assistant\n", placeholders: placeholders, addSpecialTokens: false)
        }
    }

    // MARK: plain

    func plain(_ conversation: Conversation, _ allTurns: [Conversation.Turn]) throws -> TokenizedSample {
        let turns = allTurns.filter { $0.role != .system }
        guard turns.count == 2 else {
            throw SampleError(.template, sample: conversation.id, "the plain template needs one human and one gpt turn, got \(turns.count) turns")
        }
        let media = placeholders.flatMap { p in Array(repeating: p.text, count: PythonText.count(p.text, in: turns[0].value)) }
        guard !media.isEmpty else {
            throw SampleError(.template, sample: conversation.id, "the plain template needs a placeholder in the human turn")
        }
        // The human turn is replaced by its placeholders (in text order).
        let prefix = placeholderSequence(in: turns[0].value)
        let ids = encode(prefix + turns[1].value + "\n")
        var labels = ids
        let masked = encode(prefix).count
        for i in 0..<min(masked, labels.count) { labels[i] = TokenizedSample.ignoreIndex }
        return TokenizedSample(id: conversation.id, ids: ids, labels: labels, media: conversation.media)
    }

    func placeholderSequence(in text: String) -> String {
        var found: [(Int, String)] = []
        for p in placeholders {
            found += PythonText.occurrences(of: p.text, in: text).map { ($0, p.text) }
        }
        return found.sorted { $0.0 < $1.0 }.map(\.1).joined()
    }

    // MARK: vicuna_v1

    func vicuna(_ conversation: Conversation, _ allTurns: [Conversation.Turn]) throws -> TokenizedSample {
        let system = allTurns.first(where: { $0.role == .system })?.value ?? systemPrompt ?? ChatTemplate.vicunaSystem
        let turns = allTurns.filter { $0.role != .system }
        var prompt = system + " "
        for (i, turn) in turns.enumerated() {
            let role = turn.role == .user ? "USER" : "ASSISTANT"
            let message = movingPlaceholderFirst(turn.value)
            // get_prompt: `if message: role + ": " + message + sep` else `role + ":"`.
            prompt += message.isEmpty ? role + ":" : role + ": " + message + (i % 2 == 0 ? " " : "</s>")
        }
        let ids = encode(prompt)
        var labels = ids
        let ignore = TokenizedSample.ignoreIndex
        let total = ids.filter { $0 != padTokenId }.count
        var current = 1
        if !labels.isEmpty { labels[0] = ignore }
        for (i, round) in PythonText.split(prompt, "</s>").enumerated() {
            if round.isEmpty { break }
            var parts = PythonText.split(round, " ASSISTANT: ")
            if parts.count != 2 { break }
            parts[0] += " ASSISTANT: "
            var roundLength = encode(round).count
            var instructionLength = encode(parts[0]).count - 2
            if i != 0 && !legacy {
                roundLength -= 1
                instructionLength -= 1
            }
            for j in current..<max(current, min(current + instructionLength, labels.count)) { labels[j] = ignore }
            current += roundLength
        }
        for j in min(current, labels.count)..<labels.count { labels[j] = ignore }
        if current != total {
            throw SampleError(.tokenizationMismatch, sample: conversation.id,
                              "the rounds add up to \(current) tokens but the conversation has \(total); check the tokenizer's legacy setting")
        }
        return TokenizedSample(id: conversation.id, ids: ids, labels: labels, media: conversation.media)
    }

    // MARK: chatml

    func chatml(_ conversation: Conversation, _ allTurns: [Conversation.Turn]) throws -> TokenizedSample {
        let system = allTurns.first(where: { $0.role == .system })?.value ?? systemPrompt ?? ChatTemplate.chatmlSystem
        let turns = allTurns.filter { $0.role != .system }
        let ignore = TokenizedSample.ignoreIndex
        var ids = Array(tokenizer.encode("", addSpecialTokens: true).prefix(1))  // BOS if the tokenizer has one
        var labels = [Int](repeating: ignore, count: ids.count)
        func append(_ text: String, supervised: Bool) {
            let piece = tokenizer.encodeWithPlaceholders(text, placeholders: placeholders, addSpecialTokens: false)
            ids += piece
            labels += supervised ? piece : [Int](repeating: ignore, count: piece.count)
        }
        append("<|im_start|>system\n" + system + "<|im_end|>\n", supervised: false)
        for turn in turns {
            if turn.role == .user {
                append("<|im_start|>user\n" + movingPlaceholderFirst(turn.value) + "<|im_end|>\n", supervised: false)
            } else {
                append("<|im_start|>assistant\n", supervised: false)
                append(turn.value + "<|im_end|>\n", supervised: true)
            }
        }
        return TokenizedSample(id: conversation.id, ids: ids, labels: labels, media: conversation.media)
    }
}
