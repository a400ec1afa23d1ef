import Foundation

/// Counts samples skipped for bad data; prints the first few reasons and a per-kind summary.
public final class SkipLog: @unchecked Sendable {
    public private(set) var counts: [String: Int] = [:]
    public private(set) var firstReasons: [String] = []
    public let printLimit: Int
    private let lock = NSLock()
    private let output: (String) -> Void

    public init(printLimit: Int = 5, output: @escaping (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }) {
        self.printLimit = printLimit
        self.output = output
    }

    public func record(_ kind: String, _ reason: String) {
        lock.lock()
        counts[kind, default: 0] += 1
        let shouldPrint = firstReasons.count < printLimit
        if shouldPrint { firstReasons.append(reason) }
        lock.unlock()
        if shouldPrint { output("skipping \(reason)") }
    }

    public func record(_ error: SampleError) { record(error.kind.rawValue, error.description) }

    public var total: Int { lock.lock(); defer { lock.unlock() }; return counts.values.reduce(0, +) }

    /// "12 samples skipped: 7 media file unusable, 5 tokenization mismatch", or nil when none.
    public var summary: String? {
        lock.lock(); defer { lock.unlock() }
        let total = counts.values.reduce(0, +)
        guard total > 0 else { return nil }
        let parts = counts.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }
        return "\(total) sample\(total == 1 ? "" : "s") skipped: " + parts.joined(separator: ", ")
    }
}
