import Dispatch
import Foundation
import CLoomBLAS

/// How many threads Loom's kernels use, and the one way they fan out.
///
/// Kernels split work across `Threads.count` workers; OpenBLAS gets the same count. The two never run
/// at once (GEMM is called from one thread, or from workers with OpenBLAS set to one thread), so the
/// machine is never oversubscribed. Set with `LOOM_NUM_THREADS` or `Threads.setCount(_:)` (`--threads`).
public enum Threads {
    nonisolated(unsafe) private static var configured: Int = {
        if let value = ProcessInfo.processInfo.environment["LOOM_NUM_THREADS"], let n = Int(value), n > 0 {
            return n
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }()
    nonisolated(unsafe) private static var blasSynced = false

    /// Workers available to a kernel called from here: the configured count, or 1 on a thread that
    /// `SampleParallel` gave a shard of the batch (the other cores are busy with the other shards).
    public static var count: Int { isShardWorker ? 1 : configured }

    /// True on a thread running one shard of a `SampleParallel` region.
    @TaskLocal public static var isShardWorker = false

    /// Sets the worker count for Loom's kernels and OpenBLAS.
    public static func setCount(_ n: Int) {
        precondition(n > 0, "thread count must be positive, got \(n)")
        configured = n
        BLAS.ensureLoaded()
        loom_blas_set_threads(Int32(n))
        blasSynced = true
    }

    /// Gives OpenBLAS Loom's thread count the first time GEMM is used.
    static func syncBLASIfNeeded() {
        if !blasSynced {
            blasSynced = true
            loom_blas_set_threads(Int32(configured))
        }
    }

    /// Runs `body` over `0..<count` split into contiguous chunks, one per worker. Work below `grain`
    /// items per chunk stays on the calling thread.
    @inlinable
    public static func parallelFor(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = min(Threads.count, max(1, count / max(grain, 1)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        let chunk = (count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = worker * chunk
            let end = min(count, start + chunk)
            if start < end { body(start..<end) }
        }
    }
}
