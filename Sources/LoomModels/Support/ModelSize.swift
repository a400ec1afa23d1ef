import Foundation
import LoomCheckpoint

/// The parameter count a config.json describes, checked before a model is built from it: a file that
/// names sizes no machine could hold (or that overflow) is refused with a clear error instead of an
/// allocation that fails or summons the out-of-memory killer.
enum ModelSize {
    /// `terms` are products of sizes (one per weight family, with its multiplicity); their sum is the
    /// parameter count, refused when it overflows or when, even at 2 bytes a parameter (bfloat16),
    /// it exceeds physical memory.
    static func check(_ terms: [[Int]], model: String) throws {
        var total = 0
        for factors in terms {
            var product = 1
            for factor in factors {
                let (next, overflow) = product.multipliedReportingOverflow(by: factor)
                guard !overflow else { throw ConfigError("\(model): the sizes in config.json overflow a parameter count") }
                product = next
            }
            let (sum, overflow) = total.addingReportingOverflow(product)
            guard !overflow else { throw ConfigError("\(model): the sizes in config.json overflow a parameter count") }
            total = sum
        }
        let memory = ProcessInfo.processInfo.physicalMemory
        let (bytes, overflow) = total.multipliedReportingOverflow(by: 2)
        guard !overflow, UInt64(bytes) <= memory else {
            let gib = { (value: Double) in String(format: "%.1f GiB", value / 1_073_741_824) }
            throw ConfigError("\(model): config.json describes \(total) parameters (\(gib(Double(total) * 2)) even in bfloat16), "
                              + "more than this machine's \(gib(Double(memory))) of memory")
        }
    }
}
