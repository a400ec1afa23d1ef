import ArgumentParser
import Foundation
import LoomTokenizer

/// Encodes a JSONL file of texts with a Hugging Face tokenizer.json, as the tokenizers library's
/// `encode(text).ids` would.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode {\"text\": …} lines into {\"ids\": […]} lines with a tokenizer.json.",
        discussion: """
        Every input line must be a JSON object with a string "text"; the output has one {"ids": […]}
        line per input line, in order, with the special tokens the tokenizer's post-processor adds
        (BOS/EOS) unless --no-special-tokens. A bad line stops the command with its line number.
        --timing prints the encode throughput (encoding only, best of --repeat passes) to standard error.
        """)

    @Option(help: "Folder with tokenizer.json (and optionally tokenizer_config.json).") var tokenizer: String
    @Option(help: "Input JSONL file: one {\"text\": …} object per line.") var input: String
    @Option(help: "Output JSONL file: one {\"ids\": […]} object per input line.") var output: String
    @Flag(help: "Leave out the special tokens the post-processor adds.") var noSpecialTokens = false
    @Option(help: "Encoding threads (ids do not depend on it).") var threads = 1
    @Flag(help: "Print encode throughput (MB/s of UTF-8 input, tokens/s) to standard error.") var timing = false
    @Option(name: .customLong("repeat"), help: "Encode the whole input this many times (the best pass is reported).")
    var passes = 1

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads must be positive, got \(threads)") }
        guard passes > 0 else { throw ValidationError("--repeat must be positive, got \(passes)") }
    }

    func run() throws {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: self.tokenizer))
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let texts = try readTexts()
        var ids: [[Int]] = []
        var best = Double.infinity
        for _ in 0..<passes {
            let start = DispatchTime.now().uptimeNanoseconds
            if threads == 1 {
                ids = texts.map { tokenizer.encode($0, addSpecialTokens: !noSpecialTokens) }
            } else {
                ids = tokenizer.encodeBatch(texts, addSpecialTokens: !noSpecialTokens, threads: threads)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        try writeIds(ids)
        if timing {
            let bytes = texts.reduce(0) { $0 + $1.utf8.count }
            let tokens = ids.reduce(0) { $0 + $1.count }
            let load = String(format: "loaded %@ (vocabulary %d) in %.3f s", self.tokenizer, tokenizer.vocabularySize, loadSeconds)
            FileHandle.standardError.write(Data((load + "\n").utf8))
            let line = String(format: "encoded %d lines, %.2f MB, %d tokens in %.3f s (best of %d, %d thread%@): %.2f MB/s, %.0f tokens/s",
                              texts.count, Double(bytes) / 1e6, tokens, best, passes, threads, threads == 1 ? "" : "s",
                              Double(bytes) / 1e6 / best, Double(tokens) / best)
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// The "text" of every line; a line that is not such an object fails with its number.
    private func readTexts() throws -> [String] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: input))
        } catch {
            throw TokenizeError("\(input): cannot read the file (\(error.localizedDescription))")
        }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline
        return try lines.enumerated().map { index, line in
            let number = index + 1
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(line), options: [])
            } catch {
                throw TokenizeError("\(input):\(number): not valid JSON")
            }
            guard let dictionary = object as? [String: Any], let text = dictionary["text"] as? String else {
                throw TokenizeError("\(input):\(number): expected an object with a string \"text\"")
            }
            return text
        }
    }

    private func writeIds(_ ids: [[Int]]) throws {
        var out = ""
        out.reserveCapacity(ids.reduce(0) { $0 + 12 + 6 * $1.count })
        for line in ids {
            out += "{\"ids\":["
            out += line.map(String.init).joined(separator: ",")
            out += "]}\n"
        }
        do {
            try Data(out.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw TokenizeError("\(output): cannot write the file (\(error.localizedDescription))")
        }
    }
}

/// A problem with the command's files, reported without the usage text.
struct TokenizeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
