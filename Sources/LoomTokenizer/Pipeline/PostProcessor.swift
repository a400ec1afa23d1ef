/// The post-processors of tokenizer.json, on ids only (Loom keeps no offsets or type ids).
indirect enum PostProcessor {
    enum TemplatePiece: Equatable {
        /// Sequence A (0) or B (1).
        case sequence(Int)
        /// A special token by its template id (a key of `special_tokens`).
        case special(String)
    }

    /// `single` and `pair` templates; `specials` maps each template id to the ids it emits.
    case template(single: [TemplatePiece], pair: [TemplatePiece], specials: [String: [Int32]])
    /// `<s> A </s>` and `<s> A </s> </s> B </s>`.
    case roberta(cls: Int32, sep: Int32)
    /// `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`.
    case bert(cls: Int32, sep: Int32)
    /// Only trims offsets in tokenizers: nothing to do for ids.
    case byteLevel
    case sequence([PostProcessor])

    /// The final ids of one sequence (`pair` nil) or a pair.
    func processed(_ a: [Int32], _ pair: [Int32]?, addsSpecialTokens: Bool) -> [Int32] {
        var encodings = [a]
        if let pair { encodings.append(pair) }
        return process(encodings, addsSpecialTokens: addsSpecialTokens).flatMap { $0 }
    }

    /// tokenizers' `process_encodings`: a list of encodings in, a list out (concatenated at the end).
    private func process(_ encodings: [[Int32]], addsSpecialTokens: Bool) -> [[Int32]] {
        switch self {
        case .byteLevel:
            return encodings
        case .sequence(let processors):
            var current = encodings
            for processor in processors { current = processor.process(current, addsSpecialTokens: addsSpecialTokens) }
            return current
        case .roberta(let cls, let sep), .bert(let cls, let sep):
            guard addsSpecialTokens else { return encodings }
            var out: [[Int32]] = []
            for (i, ids) in encodings.enumerated() {
                if i == 0 {
                    out.append([cls] + ids + [sep])
                } else if case .roberta = self {
                    out.append([sep] + ids + [sep])
                } else {
                    out.append(ids + [sep])
                }
            }
            return out
        case .template(let single, let pair, let specials):
            let template = encodings.count == 2 ? pair : single
            var out: [[Int32]] = []
            for piece in template {
                switch piece {
                case .sequence(let index):
                    if index < encodings.count { out.append(encodings[index]) }
                case .special(let name):
                    if addsSpecialTokens { out.append(specials[name] ?? []) }
                }
            }
            return out
        }
    }

    /// The first and last ids a single sequence gets (the BOS / EOS this processor adds), if any.
    var singleSequenceSpecials: (first: Int32?, last: Int32?) {
        switch self {
        case .byteLevel:
            return (nil, nil)
        case .roberta(let cls, let sep), .bert(let cls, let sep):
            return (cls, sep)
        case .template(let single, _, let specials):
            var first: Int32?, last: Int32?
            if case .special(let name) = single.first, let ids = specials[name], ids.count == 1 { first = ids[0] }
            if case .special(let name) = single.last, single.count > 1, let ids = specials[name], ids.count == 1 {
                last = ids[0]
            }
            return (first, last)
        case .sequence(let processors):
            var result: (first: Int32?, last: Int32?) = (nil, nil)
            for processor in processors {
                let specials = processor.singleSequenceSpecials
                result.first = result.first ?? specials.first
                result.last = result.last ?? specials.last
            }
            return result
        }
    }
}
