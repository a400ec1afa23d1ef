import XCTest
@testable import LoomTensor

/// `SampleParallel`: shards of a batch run at once on one-thread kernels give the gradients of
/// running them one after the other.
final class SampleParallelTests: XCTestCase {
    private var original = 1

    override func setUp() {
        original = Threads.count
        Threads.setCount(max(2, original))
    }

    override func tearDown() { Threads.setCount(original) }

    /// A small decoder-like block (linear, RMSNorm, causal attention, linear, summed cross-entropy) on
    /// shard `s`'s own inputs; sizes large enough that the threaded kernels split their work.
    private func shardLoss(_ s: Int, _ p: [Tensor], recompute: Bool = false) throws -> Tensor {
        let (t, d) = (24 + 8 * s, 64)
        // p[4] before the block: its gradient needs the block's input gradient.
        let x = linear(randomTensor([2, t, d], seed: 100 + UInt64(s)), weight: p[4], bias: nil)
        let block = { (x: Tensor) in rmsNorm(linear(x, weight: p[0], bias: p[1]), weight: p[2], eps: 1e-6) }
        let h = recompute ? recomputedInBackward(x, parameters: Array(p[0..<3]), block) : block(x)
        let heads = h.reshaped([2, t, 4, 16]).transposed(1, 2)
        let attended = scaledDotProductAttention(query: heads, key: heads, value: heads, mask: .causal)
        let logits = linear(attended.transposed(1, 2).reshaped([2 * t, d]), weight: p[3], bias: nil)
        let targets = IntTensor((0..<(2 * t)).map { ($0 * 7 + s) % 40 })
        return try crossEntropy(logits: logits, targets: targets, reduction: .sum)
    }

    private func parameters() -> [Tensor] {
        let p = [randomTensor([64, 64], seed: 1), randomTensor([64], seed: 2), randomTensor([64], seed: 3), randomTensor([40, 64], seed: 4), randomTensor([64, 64], seed: 5)]
        for t in p { t.requiresGradient = true }
        return p
    }

    func testShardsRunAtOnceGiveTheBitsOfRunningThemInTurn() throws {
        try checkShardsAgainstRunningInTurn(recompute: false)
    }

    /// With a recomputed block (gradient checkpointing), whose backward reads its own input leaf's
    /// gradient inside the shard.
    func testRecomputedBlocksInShardsGiveTheBitsOfRunningThemInTurn() throws {
        try checkShardsAgainstRunningInTurn(recompute: true)
    }

    private func checkShardsAgainstRunningInTurn(recompute: Bool) throws {
        let p = parameters()
        // In turn, with one-thread GEMMs as a shard has (OpenBLAS's threaded sgemm may round differently).
        let inTurnLosses = try BLAS.withSingleThreadedGEMM { try (0..<3).map { s -> Float in
            let loss = try shardLoss(s, p, recompute: recompute)
            loss.backward()
            return loss.item
        } }
        let inTurn = p.map { $0.grad!.scalars }
        for t in p { t.zeroGradient() }

        var threadCounts = [Int](repeating: 0, count: 3)
        let losses = try threadCounts.withUnsafeMutableBufferPointer { counts in
            let counts = counts
            return try SampleParallel.map(3) { s -> Float in
                counts[s] = Threads.count
                let loss = try shardLoss(s, p, recompute: recompute)
                loss.backward()
                return loss.item
            }
        }
        XCTAssertEqual(threadCounts, [1, 1, 1], "a shard's kernels run on its own thread")
        XCTAssertEqual(Threads.count, max(2, original))
        XCTAssertEqual(losses, inTurnLosses)
        XCTAssertEqual(p.map { $0.grad!.scalars }, inTurn)
    }

    /// A parameter only a later shard reaches gets that shard's gradient; gradients already in `grad`
    /// (an earlier micro-batch) are added to, as in turn.
    func testGradientsAccumulateOntoEarlierOnes() throws {
        func run(parallel: Bool) throws -> [[Float]] {
            let w = randomTensor([8, 8], seed: 9, requiresGradient: true), u = randomTensor([8, 8], seed: 11, requiresGradient: true)
            let x = randomTensor([4, 8], seed: 10)
            sum(linear(x, weight: w, bias: nil)).backward()  // an earlier micro-batch reached w only
            let body = { (s: Int) in
                let y = linear(x, weight: s == 0 ? w : u, bias: nil)
                sum(y * y).backward()
            }
            if parallel {
                _ = try SampleParallel.map(2, body)
            } else {
                BLAS.withSingleThreadedGEMM { for s in 0..<2 { body(s) } }
            }
            return [w.grad!.scalars, u.grad!.scalars]
        }
        XCTAssertEqual(try run(parallel: true), try run(parallel: false))
    }

    func testTheFirstErrorInShardOrderIsRethrownAfterAllShardsFinish() {
        struct Failure: Error, Equatable { let shard: Int }
        var finished = [Bool](repeating: false, count: 4)
        XCTAssertThrowsError(try finished.withUnsafeMutableBufferPointer { flags in
            let flags = flags
            _ = try SampleParallel.map(4) { s in
                flags[s] = true
                if s == 1 || s == 3 { throw Failure(shard: s) }
            }
        }) { XCTAssertEqual($0 as? Failure, Failure(shard: 1)) }
        XCTAssertEqual(finished, [true, true, true, true])
    }

    func testShardCountIsOnePerCoreAndNeverMoreThanTheSamples() {
        XCTAssertEqual(SampleParallel.shardCount(samples: 1), 1)
        XCTAssertEqual(SampleParallel.shardCount(samples: 100), Threads.count)
        Threads.setCount(1)
        XCTAssertEqual(SampleParallel.shardCount(samples: 100), 1)
    }
}
