import Foundation
import LoomCheckpoint
import LoomImages
import LoomModels
import LoomNN
import LoomTensor

/// Pretrains a CLIP vision tower on scenes of shapes: from the last hidden state, each patch predicts
/// the shape, colour and size of the object centred in it (or "none") and its own row and column;
/// the CLS token predicts how many objects there are. A tower trained this way hands a frozen,
/// position-aware description of the scene to the connector.
final class VisionAttributeTask: PretrainTask {
    struct Sample {
        var media: String
        var pixels: Tensor
        var shape: [Int], colour: [Int], size: [Int]   // per patch; 0 = no object
        var count: Int
    }

    final class Heads: Module {
        @Child var shape: Linear
        @Child var colour: Linear
        @Child var size: Linear
        @Child var row: Linear
        @Child var col: Linear
        @Child var count: Linear
        init(dim: Int, shapes: Int, colours: Int, sizes: Int, grid: Int, maxCount: Int) {
            shape = Linear(dim, shapes + 1)
            colour = Linear(dim, colours + 1)
            size = Linear(dim, sizes + 1)
            row = Linear(dim, grid)
            col = Linear(dim, grid)
            count = Linear(dim, maxCount + 1)
        }
    }

    final class Bundle: Module {
        @Child var tower: CLIPVisionModel
        @Child var heads: Heads
        init(tower: CLIPVisionModel, heads: Heads) { self.tower = tower; self.heads = heads }
    }

    let recipe: PretrainRecipe
    let tower: CLIPVisionModel
    let heads: Heads
    let bundle: Bundle
    let shapes: [String], colours: [String], sizes: [String]
    let trainSamples: [Sample], evalSamples: [Sample]
    let grid: Int

    var encoder: Module { tower }
    var trainable: Module { bundle }
    var trainCount: Int { trainSamples.count }
    var headlineMetric: String { "object_attribute_accuracy" }

    init(recipe: PretrainRecipe, log: (String) -> Void) throws {
        self.recipe = recipe
        let config = try CLIPVisionConfig.decode(from: URL(fileURLWithPath: recipe.modelConfig))
        let grid = config.gridSize
        self.grid = grid
        let processor = try CLIPImageProcessor(preprocessorConfig: URL(fileURLWithPath: recipe.preprocessorConfig))
        let trainRecords = try readJSONArray(recipe.train)
        let evalRecords = try recipe.eval.map(readJSONArray)
        var names: (shape: Set<String>, colour: Set<String>, size: Set<String>) = ([], [], [])
        var maxCount = 0, worldGrid = 0
        for record in trainRecords {
            let objects = record["objects"] as? [[String: Any]] ?? []
            maxCount = max(maxCount, objects.count)
            for o in objects {
                names.shape.insert(o["shape"] as? String ?? "")
                names.colour.insert(o["colour"] as? String ?? "")
                names.size.insert(o["size"] as? String ?? "")
                worldGrid = max(worldGrid, (o["row"] as? Int ?? 0) + 1, (o["col"] as? Int ?? 0) + 1)
            }
        }
        guard worldGrid <= grid else {
            throw RecipeError("\(recipe.train): objects sit on a grid of \(worldGrid) cells a side, the tower has \(grid)×\(grid) patches (image_size / patch_size): make them equal")
        }
        let shapes = names.shape.sorted(), colours = names.colour.sorted(), sizes = names.size.sorted()
        (self.shapes, self.colours, self.sizes) = (shapes, colours, sizes)
        func decode(_ record: [String: Any], file: String) throws -> Sample {
            guard let image = record["image"] as? String, let objects = record["objects"] as? [[String: Any]] else {
                throw RecipeError("\(file): a sample lacks \"image\" or \"objects\"")
            }
            let path = try recipe.mediaPath(image, in: file)
            let patches = grid * grid
            var sample = Sample(media: path, pixels: try processor.process(path: path), shape: .init(repeating: 0, count: patches),
                                colour: .init(repeating: 0, count: patches), size: .init(repeating: 0, count: patches), count: objects.count)
            // The world's grid may be coarser than the patch grid only when equal (checked above).
            for o in objects {
                guard let row = o["row"] as? Int, let col = o["col"] as? Int, (0..<grid).contains(row), (0..<grid).contains(col),
                      let s = shapes.firstIndex(of: o["shape"] as? String ?? ""), let c = colours.firstIndex(of: o["colour"] as? String ?? ""),
                      let z = sizes.firstIndex(of: o["size"] as? String ?? "") else {
                    throw RecipeError("\(file): object \(o) has an unknown attribute or a cell outside the grid")
                }
                let p = row * grid + col
                sample.shape[p] = s + 1; sample.colour[p] = c + 1; sample.size[p] = z + 1
            }
            return sample
        }
        log("vision pretraining: decoding \(trainRecords.count + (evalRecords?.count ?? 0)) images")
        let trainAll = try parallelMap(trainRecords.count) { try decode(trainRecords[$0], file: recipe.train) }
        let evalAll = try evalRecords.map { records in try parallelMap(records.count) { try decode(records[$0], file: recipe.eval!) } }
        (trainSamples, evalSamples) = try split(trainAll, eval: evalAll, evalSamples: recipe.evalSamples, media: \.media)
        tower = CLIPVisionModel(config)
        heads = Heads(dim: config.hiddenSize, shapes: shapes.count, colours: colours.count, sizes: sizes.count, grid: grid, maxCount: maxCount)
        bundle = Bundle(tower: tower, heads: heads)
        var rng = RandomGenerator(seed: recipe.seed)
        bundle.initializeParameters(std: 0.02, generator: &rng)
        bundle.unfreeze()
    }

    /// Logits of every head for a batch.
    func forward(_ samples: [Sample]) throws -> (shape: Tensor, colour: Tensor, size: Tensor, row: Tensor, col: Tensor, count: Tensor) {
        let pixels = stacked(samples.map(\.pixels))
        let h = try tower.hiddenState(pixels, at: -1)                                    // [B, 1+P, D]
        let (b, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        let patches = h.sliced(axis: 1, 1..<t).reshaped([b * (t - 1), d])
        let cls = h.sliced(axis: 1, 0..<1).reshaped([b, d])
        return (heads.shape(patches), heads.colour(patches), heads.size(patches), heads.row(patches), heads.col(patches), heads.count(cls))
    }

    func targets(_ samples: [Sample]) -> (shape: [Int], colour: [Int], size: [Int], row: [Int], col: [Int], count: [Int]) {
        let p = grid * grid
        let rows = samples.flatMap { _ in (0..<p).map { $0 / grid } }, cols = samples.flatMap { _ in (0..<p).map { $0 % grid } }
        return (samples.flatMap(\.shape), samples.flatMap(\.colour), samples.flatMap(\.size), rows, cols, samples.map(\.count))
    }

    func loss(_ indices: [Int]) throws -> Tensor {
        let batch = indices.map { trainSamples[$0] }
        let out = try forward(batch), y = targets(batch)
        return try crossEntropy(logits: out.shape, targets: IntTensor(y.shape))
            + crossEntropy(logits: out.colour, targets: IntTensor(y.colour))
            + crossEntropy(logits: out.size, targets: IntTensor(y.size))
            + crossEntropy(logits: out.row, targets: IntTensor(y.row)) * 0.25
            + crossEntropy(logits: out.col, targets: IntTensor(y.col)) * 0.25
            + crossEntropy(logits: out.count, targets: IntTensor(y.count)) * 0.5
    }

    func evaluate() throws -> [String: Double] {
        var sums: [String: (Int, Int)] = [:]
        func add(_ name: String, _ r: (correct: Int, total: Int)) {
            let s = sums[name] ?? (0, 0)
            sums[name] = (s.0 + r.correct, s.1 + r.total)
        }
        try withoutGradients {
            for start in stride(from: 0, to: evalSamples.count, by: 64) {
                let batch = Array(evalSamples[start..<min(start + 64, evalSamples.count)])
                let out = try forward(batch), y = targets(batch)
                let occupied = { (i: Int) in y.shape[i] != 0 }
                add("shape_accuracy", argmaxAccuracy(out.shape, y.shape, include: occupied))
                add("colour_accuracy", argmaxAccuracy(out.colour, y.colour, include: occupied))
                add("size_accuracy", argmaxAccuracy(out.size, y.size, include: occupied))
                add("position_accuracy", argmaxAccuracy(out.row, y.row))
                add("position_accuracy", argmaxAccuracy(out.col, y.col))
                add("count_accuracy", argmaxAccuracy(out.count, y.count))
                // An object is right when shape, colour and size all are.
                let (s, c, z) = (out.shape.scalars, out.colour.scalars, out.size.scalars)
                var objects = (0, 0)
                for i in 0..<y.shape.count where y.shape[i] != 0 {
                    objects.1 += 1
                    if argmax(s, row: i, classes: shapes.count + 1) == y.shape[i] && argmax(c, row: i, classes: colours.count + 1) == y.colour[i]
                        && argmax(z, row: i, classes: sizes.count + 1) == y.size[i] { objects.0 += 1 }
                }
                add("object_attribute_accuracy", objects)
                var occupancy = (0, 0)
                for i in 0..<y.shape.count {
                    occupancy.1 += 1
                    if (argmax(s, row: i, classes: shapes.count + 1) != 0) == (y.shape[i] != 0) { occupancy.0 += 1 }
                }
                add("occupancy_accuracy", occupancy)
            }
        }
        return sums.mapValues { Double($0.0) / Double(max($0.1, 1)) }
    }

    var cardDescription: [String] {
        let c = tower.config
        return ["CLIP vision tower (transformers `CLIPVisionModel`, model_type `clip_vision_model`): \(c.imageSize) px images, patch \(c.patchSize) (\(grid)×\(grid) patches + CLS), hidden \(c.hiddenSize), \(c.numHiddenLayers) layers, \(c.numAttentionHeads) heads, FFN \(c.intermediateSize), \(tower.parameterCount) parameters.",
                "Objective: from the last hidden state (`hidden_states[-1]`, so use `feature_layer: -1`), each patch predicts the shape (\(shapes.joined(separator: ", ")) or none), colour (\(colours.joined(separator: ", ")) or none) and size (\(sizes.joined(separator: ", ")) or none) of the object centred in it, and its own row and column; the CLS token predicts the object count. The heads are not part of the published weights."]
    }
}
