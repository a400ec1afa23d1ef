import Foundation
import LoomNN
import LoomTensor

/// A supervised objective that makes an encoder useful when frozen. The task owns the encoder (whose
/// weights are published) and the heads (trained with it; discarded unless the task publishes one
/// beside the weights).
protocol PretrainTask: AnyObject {
    /// The model written to the output folder.
    var encoder: Module { get }
    /// Everything that trains: the encoder and the heads.
    var trainable: Module { get }
    var trainCount: Int { get }
    /// Mean loss of the training samples at `indices`.
    func loss(_ indices: [Int]) throws -> Tensor
    /// Held-out quality, by metric name (accuracies in 0…1).
    func evaluate() throws -> [String: Double]
    /// The metric the progress line and the model card lead with.
    var headlineMetric: String { get }
    /// Lines for the model card: what the heads predicted, the architecture.
    var cardDescription: [String] { get }
    /// Files the task writes into the output folder besides the encoder's (a head a connector reads).
    func writeExtras(to directory: URL) throws
}

extension PretrainTask {
    func writeExtras(to directory: URL) throws {}
}

/// Reads a JSON array of objects (the demo world's pretraining files).
func readJSONArray(_ path: String) throws -> [[String: Any]] {
    guard let data = FileManager.default.contents(atPath: path) else { throw RecipeError("cannot read \(path)") }
    guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
        throw RecipeError("\(path) is not a JSON array of objects")
    }
    return array
}

/// Processes `count` items on all cores, in order.
func parallelMap<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
    var results = [Result<T, Error>?](repeating: nil, count: count)
    results.withUnsafeMutableBufferPointer { buffer in
        let base = buffer.baseAddress!
        DispatchQueue.concurrentPerform(iterations: max(1, ProcessInfo.processInfo.activeProcessorCount)) { worker in
            let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
            var i = worker
            while i < count {
                base[i] = Result { try body(i) }
                i += workers
            }
        }
    }
    return try results.map { try $0!.get() }
}

/// Stacks equally shaped tensors along a new leading axis.
func stacked(_ items: [Tensor]) -> Tensor {
    let shape = items[0].shape
    var scalars: [Float] = []
    scalars.reserveCapacity(items.count * items[0].count)
    for item in items { scalars += item.scalars }
    return Tensor(shape: [items.count] + shape, scalars: scalars)
}

/// Splits a data file into training and held-out samples: the eval file when given, else the last
/// `evalSamples` of the training file, with every training sample that shares a media file with a
/// held-out one dropped (a clip spoken twice must not be both trained on and scored).
func split<T>(_ train: [T], eval: [T]?, evalSamples: Int, media: (T) -> String) throws -> (train: [T], eval: [T]) {
    if let eval { return (train, eval) }
    guard train.count > evalSamples else { throw RecipeError("\(train.count) samples cannot spare \(evalSamples) for evaluation") }
    let heldOut = Array(train.suffix(evalSamples))
    let heldOutMedia = Set(heldOut.map(media))
    return (train.dropLast(evalSamples).filter { !heldOutMedia.contains(media($0)) }, heldOut)
}

/// The class with the largest value in row `row` of a row-major [N, classes] array (first on ties).
func argmax(_ values: [Float], row: Int, classes: Int) -> Int {
    var best = 0
    for j in 1..<classes where values[row * classes + j] > values[row * classes + best] { best = j }
    return best
}

/// Accuracy of argmax(logits) [N, C] against targets, counting only rows where `include` holds.
func argmaxAccuracy(_ logits: Tensor, _ targets: [Int], include: (Int) -> Bool = { _ in true }) -> (correct: Int, total: Int) {
    let c = logits.shape.last!
    let values = logits.scalars
    var correct = 0, total = 0
    for row in 0..<targets.count where include(row) {
        total += 1
        if argmax(values, row: row, classes: c) == targets[row] { correct += 1 }
    }
    return (correct, total)
}
