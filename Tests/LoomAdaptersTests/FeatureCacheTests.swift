import XCTest
import LoomAdapters
import LoomModels
import LoomNN
import LoomTensor

final class FeatureCacheTests: XCTestCase {
    /// A binding over `WordCountEncoder` with a linear connector (6 → 8).
    func binding(encoder: WordCountEncoder) throws -> ModalityBinding {
        let connector = try ConnectorRegistry.make("linear", options: ConnectorOptions(), inputDim: 6, outputDim: 8)
        var rng = RandomGenerator(seed: 4)
        connector.initializeParameters(std: 0.3, generator: &rng)
        let binding = ModalityBinding(name: "probe", placeholder: "<probe>", encoder: encoder, connector: connector)
        binding.freeze()
        return binding
    }

    /// Items read from the cache give the tokens and real lengths their encoding gives, whatever
    /// stands in their inputs; only the files the cache does not hold reach the encoder.
    func testCachedFilesGiveTheEncodersTokensWithoutEncoding() throws {
        let encoder = WordCountEncoder()
        let binding = try binding(encoder: encoder)
        var rng = RandomGenerator(seed: 9)
        let clips = (0..<4).map { _ in Tensor.randomNormal([1, 7, 6], generator: &rng) }   // files a, b, c, d
        func batch(_ picks: [Int]) -> Tensor { concat(picks.map { clips[$0] }, axis: 0) }
        let reference = try binding.embedWithLengths(batch([2, 0, 3]))                    // c, a, d: no cache
        XCTAssertNotNil(reference.lengths)

        let cache = FeatureCache(budgetBytes: 1 << 20)
        XCTAssertEqual(cache.store(try encoder.encodeWithLengths(batch([0, 1, 2])), files: ["a", "b", "c"], inputShape: [7, 6]), 3)
        XCTAssertEqual(cache.statistics, FeatureCache.Statistics(files: 3, bytes: 3 * 7 * 6 * 4, hits: 0, misses: 0))
        binding.featureCache = cache
        encoder.itemsEncoded = 0
        // c and a from the cache (zeros in their place, as the data loader puts there), d encoded.
        let standIn = try XCTUnwrap(cache.standIn(for: "c"))
        XCTAssertEqual(standIn.shape, [7, 6])
        XCTAssertEqual(standIn.scalars, [Float](repeating: 0, count: 42))
        XCTAssertNil(cache.standIn(for: "d"))
        let mixed = concat([standIn.reshaped([1, 7, 6]), standIn.reshaped([1, 7, 6]), clips[3]], axis: 0)
        let cached = try binding.embedWithLengths(mixed, files: ["c", "a", "d"])
        XCTAssertEqual(encoder.itemsEncoded, 1)
        XCTAssertEqual(cache.statistics, FeatureCache.Statistics(files: 3, bytes: 3 * 7 * 6 * 4, hits: 2, misses: 1))
        XCTAssertEqual(cached.lengths, reference.lengths)
        XCTAssertEqual(cached.tokens.shape, reference.tokens.shape)
        XCTAssertLessThanOrEqual(zip(cached.tokens.scalars, reference.tokens.scalars).map { abs($0 - $1) }.max()!, 1e-6)
        // A file the cache does not hold is encoded, not stored.
        _ = try binding.embedWithLengths(batch([3]), files: ["d"])
        XCTAssertEqual(encoder.itemsEncoded, 2)
        XCTAssertEqual(cache.statistics.files, 3)
        // Without files, or with an encoder that trains, the cache is not read.
        _ = try binding.embedWithLengths(batch([0, 1]))
        binding.encoder.unfreeze()
        _ = try binding.embedWithLengths(batch([0, 1]), files: ["a", "b"])
        XCTAssertEqual(encoder.itemsEncoded, 6)
        XCTAssertEqual(cache.statistics.hits, 2)
    }

    /// `store` keeps files until the budget is spent, and files it refused have no stand-in.
    func testTheBudgetCapsWhatIsHeld() throws {
        let encoder = WordCountEncoder()
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([3, 7, 6], generator: &rng)
        let cache = FeatureCache(budgetBytes: 2 * 7 * 6 * 4)
        XCTAssertEqual(cache.store(try encoder.encodeWithLengths(x), files: ["a", "b", "c"], inputShape: [7, 6]), 2)
        XCTAssertEqual(cache.statistics, FeatureCache.Statistics(files: 2, bytes: 2 * 7 * 6 * 4, hits: 0, misses: 0))
        XCTAssertNotNil(cache.standIn(for: "b"))
        XCTAssertNil(cache.standIn(for: "c"))
        let held = try XCTUnwrap(cache.entry(for: "b"))
        XCTAssertEqual(held.features.shape, [1, 7, 6])
        XCTAssertEqual(held.features.scalars, x.sliced(axis: 0, 1..<2).contiguous().scalars.map { $0 * 2 + 1 })
    }
}

/// Doubles its inputs plus one, and reports as real the leading rows whose first value is positive
/// (lengths that depend on the content, as the words heard in a clip do). Counts the items it encodes.
final class WordCountEncoder: Module, ModalityEncoder {
    var itemsEncoded = 0
    @Parameter var scale = Tensor(shape: [1], scalars: [2])
    var featureDimension: Int { 6 }
    func featureTokenCount(inputShape: [Int]) -> Int { inputShape[0] }
    func encode(_ inputs: Tensor) throws -> Tensor { try encodeWithLengths(inputs).features }
    func encodeWithLengths(_ inputs: Tensor) throws -> (features: Tensor, lengths: [Int]?) {
        itemsEncoded += inputs.shape[0]
        let (n, rows, d) = (inputs.shape[0], inputs.shape[1], inputs.shape[2])
        let values = inputs.contiguous().scalars
        let lengths = (0..<n).map { i in (0..<rows).prefix { values[(i * rows + $0) * d] > 0 }.count }
        return (inputs * scale + 1, lengths)
    }
}
