import Foundation
import LoomImages

/// Writes the synthetic demo world: scenes of coloured shapes, their captions, questions and spoken
/// questions, as LLaVA JSON files with PNG images and 16 kHz WAV clips (`loom make-demo-data --help`
/// lists the files).
public enum DemoWorld {
    /// Plans every file, renders the images and synthesises the speech the chosen splits need, then
    /// writes their JSON files (after their media, so no JSON names a missing file) and world.json.
    @discardableResult
    public static func generate(options: DemoWorldOptions) throws -> DemoWorldSummary {
        try options.validate()
        var clock = Stopwatch()
        let plan = try WorldPlan(options: options)
        let files = plan.files.filter { options.splits.contains($0.split) }
        var summary = DemoWorldSummary(outputDirectory: options.outputDirectory, seed: options.seed)
        summary.planSeconds = clock.lap()

        // Fail before the slow work when speech is needed and espeak-ng is missing.
        let utterances = files.flatMap { $0.samples.compactMap(\.utterance) }
        let bank = SpeechBank(outputDirectory: options.outputDirectory, workers: options.speechWorkers,
                              showsProgress: options.showsProgress)
        if !bank.missing(utterances).isEmpty { _ = try Espeak() }

        var scenesByImage: [Int: Scene] = [:]
        for file in files {
            for sample in file.samples { if let index = sample.imageIndex { scenesByImage[index] = sample.scene } }
        }
        let images = scenesByImage.sorted { $0.key < $1.key }.map { (index: $0.key, scene: $0.value) }
        try ImageWriter.write(images, to: options.outputDirectory, threads: options.renderThreads)
        summary.images = images.count
        summary.imageSeconds = clock.lap()

        summary.speech = try bank.synthesize(utterances)
        summary.speechSeconds = clock.lap()

        for file in files {
            try WorldFiles.writeSamples(file.samples.map(\.json), to: options.outputDirectory.appendingPathComponent(file.path))
            summary.files.append((file.path, file.samples.count))
        }
        if options.splits.contains(.pretrain) {
            let corpus = plan.tokenizerCorpus.joined(separator: "\n") + "\n"
            try WorldFiles.write(Data(corpus.utf8), to: options.outputDirectory.appendingPathComponent("pretrain/tokenizer_corpus.txt"))
            summary.files.append(("pretrain/tokenizer_corpus.txt", plan.tokenizerCorpus.count))
        }
        try WorldFiles.write(Data(WorldSpec.json(options: options, plan: plan).pretty.utf8),
                             to: options.outputDirectory.appendingPathComponent("world.json"))
        summary.writeSeconds = clock.lap()
        summary.totalSeconds = clock.total
        return summary
    }
}

/// What `DemoWorld.generate` wrote and how long each part took.
public struct DemoWorldSummary: CustomStringConvertible, Sendable {
    public var outputDirectory: URL
    public var seed: UInt64
    /// Each file written, with its samples (lines, for the tokenizer corpus).
    public var files: [(path: String, count: Int)] = []
    public var images = 0
    public var speech = SpeechBank.Report()
    public var planSeconds = 0.0, imageSeconds = 0.0, speechSeconds = 0.0, writeSeconds = 0.0, totalSeconds = 0.0

    public var description: String {
        var lines = ["demo world in \(outputDirectory.path) (seed \(seed)):"]
        let width = files.map(\.path.count).max() ?? 0
        for (path, count) in files {
            lines.append("  " + path.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(count)")
        }
        lines.append(String(format: "  images: %d PNG rendered in %.2f s", images, imageSeconds))
        lines.append(String(format: "  speech: %d distinct clips, %d synthesised in %.1f s%@", speech.distinct,
                            speech.synthesised, speechSeconds,
                            speech.synthesised > 0 ? String(format: " (longest %.2f s)", speech.longestSeconds) : ""))
        lines.append(String(format: "  planning %.2f s, JSON %.2f s, total %.1f s", planSeconds, writeSeconds, totalSeconds))
        return lines.joined(separator: "\n")
    }
}

/// Renders, encodes and writes images/NNNNNN.png on several threads; each image depends only on its
/// scene, so the bytes do not depend on the thread count.
enum ImageWriter {
    static func write(_ images: [(index: Int, scene: Scene)], to directory: URL, threads: Int) throws {
        let folder = directory.appendingPathComponent("images")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw WorldError("cannot create \(folder.path): \(error.localizedDescription)")
        }
        let lock = NSLock()
        var firstError: Error?
        let workers = max(1, min(threads, images.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: images.count, by: workers) {
                let path = directory.appendingPathComponent(WorldFormat.imagePath(images[i].index)).path
                do {
                    try WorldFiles.writeDirectly(PNGEncoder.encode(SceneRenderer.render(images[i].scene)), to: path)
                } catch {
                    lock.lock()
                    if firstError == nil { firstError = error }
                    lock.unlock()
                    return
                }
            }
        }
        if let firstError { throw firstError }
    }
}

/// Wall-clock laps.
struct Stopwatch {
    private let start = DispatchTime.now().uptimeNanoseconds
    private var last = DispatchTime.now().uptimeNanoseconds

    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }

    var total: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
