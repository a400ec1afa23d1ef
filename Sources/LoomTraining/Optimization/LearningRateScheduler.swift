/// Drives an optimizer's learning rates from a schedule, as torch's `LambdaLR` does in HF Trainer.
///
/// The base rates are the groups' `learningRate` (the recipe's per-group rates). Construction already sets every group to `base × λ(step)`, so the first update uses λ(0)
/// (0 when there is warmup); after each `optimizer.step()` the trainer calls `step()`, and update k
/// uses λ(k).
public final class LearningRateScheduler {
    public let optimizer: any Optimizer
    public let schedule: LearningRateSchedule
    public let baseLearningRates: [Double]
    /// Index k of the next optimizer update (torch's `last_epoch`).
    public private(set) var currentStep: Int

    /// `step` > 0 resumes a run after `step` completed updates (the checkpoint's update count).
    public init(optimizer: any Optimizer, schedule: LearningRateSchedule, step: Int = 0) {
        precondition(step >= 0, "scheduler: step \(step) must be non-negative")
        self.optimizer = optimizer
        self.schedule = schedule
        self.baseLearningRates = optimizer.parameterGroups.map(\.learningRate)
        self.currentStep = step
        apply()
    }

    /// Advances to the next update and sets its learning rates.
    public func step() {
        currentStep += 1
        apply()
    }

    /// The rates the next update uses, per group.
    public var learningRates: [Double] { optimizer.learningRates }

    private func apply() {
        let factor = schedule.multiplier(step: currentStep)
        // base_lr * lmbda(last_epoch): one Double product, as LambdaLR.get_lr.
        optimizer.learningRates = baseLearningRates.map { $0 * factor }
    }
}
