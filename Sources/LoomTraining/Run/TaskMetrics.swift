import Foundation

/// Task metrics over generated answers: exact match for short answers, corpus BLEU-4 for captions,
/// word error rate for transcripts. Text is compared lowercased, punctuation stripped, on words.
public enum TaskMetrics {
    public static func words(_ text: String) -> [String] {
        let cleaned = text.lowercased().unicodeScalars.map { CharacterSet.punctuationCharacters.contains($0) ? " " : Character($0) }
        return String(cleaned).split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    public static func exactMatch(_ prediction: String, _ reference: String) -> Bool {
        words(prediction) == words(reference)
    }

    /// Corpus-level BLEU-4 (Papineni et al.): geometric mean of clipped 1–4-gram precisions times the
    /// brevity penalty; 0 when some order has no match (no smoothing).
    public static func bleu4(predictions: [String], references: [String]) -> Double {
        var matches = [Int](repeating: 0, count: 4), totals = [Int](repeating: 0, count: 4)
        var predictionLength = 0, referenceLength = 0
        for (p, r) in zip(predictions, references) {
            let pw = words(p), rw = words(r)
            predictionLength += pw.count
            referenceLength += rw.count
            for n in 1...4 {
                let pg = ngrams(pw, n), rg = ngrams(rw, n)
                totals[n - 1] += max(0, pw.count - n + 1)
                matches[n - 1] += pg.reduce(0) { $0 + min($1.value, rg[$1.key] ?? 0) }
            }
        }
        guard predictionLength > 0, matches.allSatisfy({ $0 > 0 }) else { return 0 }
        let logPrecision = (0..<4).reduce(0.0) { $0 + Foundation.log(Double(matches[$1]) / Double(totals[$1])) } / 4
        let brevity = predictionLength >= referenceLength ? 1 : Foundation.exp(1 - Double(referenceLength) / Double(predictionLength))
        return brevity * Foundation.exp(logPrecision)
    }

    static func ngrams(_ words: [String], _ n: Int) -> [String: Int] {
        guard words.count >= n else { return [:] }
        var counts: [String: Int] = [:]
        for i in 0...(words.count - n) { counts[words[i..<(i + n)].joined(separator: " "), default: 0] += 1 }
        return counts
    }

    /// Word error rate: (substitutions + deletions + insertions) / reference words, over the corpus.
    public static func wordErrorRate(predictions: [String], references: [String]) -> Double {
        var errors = 0, total = 0
        for (p, r) in zip(predictions, references) {
            let pw = words(p), rw = words(r)
            total += rw.count
            var row = Array(0...pw.count)
            for i in 1...max(rw.count, 1) where !rw.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in stride(from: 1, through: pw.count, by: 1) {
                    let current = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (rw[i - 1] == pw[j - 1] ? 0 : 1))
                    previous = current
                }
            }
            errors += rw.isEmpty ? pw.count : row[pw.count]
        }
        return total == 0 ? 0 : Double(errors) / Double(total)
    }
}
