import XCTest
import LoomTensor
@testable import LoomNN

/// LoRA dropout inside `SampleParallel`: every shard draws its masks from a stream of its own, the
/// layer's generator then moves past all the shards' draws, and the same start repeats the same bits.
final class ShardedDropoutTests: XCTestCase {
    func testEachShardDrawsItsOwnMasksAndTheLayersGeneratorMovesPastThem() throws {
        let original = Threads.count
        Threads.setCount(2)
        defer { Threads.setCount(original) }
        var generator = RandomGenerator(seed: 3)
        let layer = Linear(8, 8, bias: false)
        layer.attachLoRA(rank: 2, alpha: 4, dropout: 0.5, generator: &generator)
        layer.loraB!.weight = Tensor.randomNormal([8, 2], generator: &generator)  // B starts at zero: make the path visible
        layer.setTraining(true)
        let x = Tensor(repeating: 1, shape: [4, 8])
        let start = layer.loraDropoutGenerator
        func shardOutputs() throws -> [[Float]] { try SampleParallel.map(2) { _ in layer(x).scalars } }

        let first = try shardOutputs()
        XCTAssertNotEqual(first[0], first[1], "the two shards drew the same masks")
        XCTAssertEqual(layer.loraDropoutGenerator.seed, start.seed)
        XCTAssertEqual(layer.loraDropoutGenerator.offset, start.offset + 2 * 32, "both shards' draws of 4 × 8")
        let second = try shardOutputs()
        XCTAssertNotEqual(second, first, "the next step drew the same masks again")
        layer.loraDropoutGenerator = start
        XCTAssertEqual(try shardOutputs(), first)
        // Outside a region the layer's own generator is used, as before.
        layer.loraDropoutGenerator = start
        let whole = layer(x).scalars
        XCTAssertEqual(layer.loraDropoutGenerator.offset, start.offset + 32)
        XCTAssertNotEqual(whole, first[0])
    }

    func testAStochasticModuleIsFoundAnywhereInTheTree() {
        final class NoisyLayer: Module { override var isStochastic: Bool { true } }
        final class Model: Module {
            @Child var body: Linear = Linear(2, 2)
            @Child var noise: NoisyLayer? = nil
        }
        let model = Model()
        XCTAssertFalse(model.containsStochasticModules)
        model.noise = NoisyLayer()
        XCTAssertTrue(model.containsStochasticModules)
    }
}
