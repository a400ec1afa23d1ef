import Foundation

/// The learning-rate schedules of transformers' `optimization.py` (SPECS 8.3). Each is a `LambdaLR`
/// multiplier λ(k) of every group's base learning rate, k being the 0-based optimizer update.
///
/// Raw values are transformers' `lr_scheduler_type` strings, so a recipe decodes them directly.
public enum LearningRateScheduleKind: String, Codable, CaseIterable, Sendable {
    /// `get_constant_schedule`: λ = 1.
    case constant
    /// `get_constant_schedule_with_warmup`: linear warmup, then 1.
    case constantWithWarmup = "constant_with_warmup"
    /// `get_linear_schedule_with_warmup`: linear warmup, then linear decay to 0 at `totalSteps`.
    case linear
    /// `get_cosine_schedule_with_warmup` (LLaVA's choice): linear warmup, then half a cosine to 0.
    case cosine
}

/// A schedule with its step counts fixed, answering λ(k).
public struct LearningRateSchedule: Equatable, Sendable {
    public var kind: LearningRateScheduleKind
    /// T: total optimizer updates of the run.
    public var totalSteps: Int
    /// W: updates of linear warmup (ignored by `constant`).
    public var warmupSteps: Int
    /// Cosine cycles over the decay phase; transformers' default 0.5 decays once from 1 to 0.
    public var cycleCount: Double

    public init(kind: LearningRateScheduleKind, totalSteps: Int, warmupSteps: Int = 0, cycleCount: Double = 0.5) {
        precondition(totalSteps >= 0 && warmupSteps >= 0,
                     "schedule \(kind.rawValue): total steps \(totalSteps) and warmup steps \(warmupSteps) must be non-negative")
        self.kind = kind
        self.totalSteps = totalSteps
        self.warmupSteps = warmupSteps
        self.cycleCount = cycleCount
    }

    /// λ(k) for 0-based update `step`, in Double with transformers' exact operation order so the
    /// value is bitwise Python's.
    public func multiplier(step: Int) -> Double {
        let s = Double(step), w = Double(warmupSteps)
        switch kind {
        case .constant:
            return 1
        case .constantWithWarmup:
            if step < warmupSteps { return s / max(1, w) }
            return 1
        case .linear:
            if step < warmupSteps { return s / Double(max(1, warmupSteps)) }
            return clampedAtZero(Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            if step < warmupSteps { return s / Double(max(1, warmupSteps)) }
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            // math.pi * float(num_cycles) * 2.0 * progress, left to right.
            return clampedAtZero(0.5 * (1 + cos(Double.pi * cycleCount * 2 * progress)))
        }
    }

    /// Python's `max(0.0, x)`: x only when x > 0, so -0.0 and NaN become 0.0.
    private func clampedAtZero(_ x: Double) -> Double { x > 0 ? x : 0 }

    /// W as HF TrainingArguments computes it: `warmup_steps` when positive, else
    /// `ceil(T · warmup_ratio)` (T·ratio in Double, so 10 × 0.03 = 0.30000000000000004 gives 1).
    public static func warmupSteps(totalSteps: Int, warmupSteps: Int = 0, warmupRatio: Double = 0) -> Int {
        precondition(warmupSteps >= 0 && warmupRatio >= 0 && warmupRatio.isFinite,
                     "warmup steps \(warmupSteps) and warmup ratio \(warmupRatio) must be non-negative")
        if warmupSteps > 0 { return warmupSteps }
        return Int((Double(totalSteps) * warmupRatio).rounded(.up))
    }
}
