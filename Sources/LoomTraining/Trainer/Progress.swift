import Foundation

/// A progress bar on a terminal (step/total, loss, lr, tokens/s, ETA), plain lines otherwise.
public final class ProgressReporter {
    let total: Int
    let label: String
    let isTerminal: Bool
    let every: Int
    /// What is counted, in the plain lines ("step 20/400").
    let unit: String
    let start = Date()
    var lastWidth = 0
    var lastPrinted = 0

    public init(label: String, total: Int, every: Int = 1, unit: String = "step") {
        self.label = label
        self.unit = unit
        self.total = max(total, 1)
        self.every = max(every, 1)
        isTerminal = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["CI"] == nil
    }

    public func update(step: Int, loss: Double, learningRate: Double, tokensPerSecond: Double) {
        update(step: step, detail: String(format: "loss %.4f  lr %.2e  %.0f tok/s", loss, learningRate, tokensPerSecond))
    }

    /// `step` of the total done; `detail` and the ETA follow the count.
    public func update(step: Int, detail: String) {
        let elapsed = Date().timeIntervalSince(start)
        let eta = step > 0 ? elapsed / Double(step) * Double(total - step) : 0
        let stats = "\(detail)\(detail.isEmpty ? "" : "  ")ETA \(Self.clock(eta))"
        if isTerminal {
            let width = 24
            let filled = Int(Double(width) * Double(step) / Double(total))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = "\(label) \(bar) \(step)/\(total)  \(stats)"
            let padding = String(repeating: " ", count: max(0, lastWidth - line.count))
            lastWidth = line.count
            FileHandle.standardError.write(Data(("\r" + line + padding).utf8))
            if step >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if step / every > lastPrinted / every || step >= total {  // a multiple of `every` reached
            lastPrinted = step
            print("\(label) \(unit) \(step)/\(total)  \(stats)")
        }
    }

    public func message(_ text: String) {
        if isTerminal && lastWidth > 0 { FileHandle.standardError.write(Data("\n".utf8)); lastWidth = 0 }
        print(text)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
