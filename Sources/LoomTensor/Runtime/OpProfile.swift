import Foundation

/// Where a step's time goes, op by op (like `torch.profiler`'s key averages): wall time per op name,
/// forward and backward apart, summed over every thread. Off unless `OpProfile.isEnabled`; then each
/// recorded op costs two clock reads.
///
/// Forward time is measured between consecutive ops on a thread (an op's time is what ran on that
/// thread since the previous op ended, so it includes the glue around it); backward time is the
/// op's backward closure itself, plus "accumulate" for the sums where a tensor feeds several ops.
/// Ops that a backward closure runs (a view's inverse, a checkpointed layer's recomputation) count
/// as that backward entry's time only.
public enum OpProfile {
    nonisolated(unsafe) public static var isEnabled = false

    public struct Entry: Sendable {
        public var seconds: Double = 0
        public var calls = 0
    }

    nonisolated(unsafe) private static var totals: [String: Entry] = [:]
    private static let lock = NSLock()
    /// Per thread: the time of the previous mark, and how many timed entries are open.
    struct ThreadClock {
        var last: Double
        var depth: Int
    }

    nonisolated(unsafe) private static var clockKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    @inline(__always)
    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// This thread's clock.
    private static func threadClock() -> UnsafeMutablePointer<ThreadClock> {
        if let p = pthread_getspecific(clockKey) { return p.assumingMemoryBound(to: ThreadClock.self) }
        let p = malloc(MemoryLayout<ThreadClock>.size)!.assumingMemoryBound(to: ThreadClock.self)
        p.initialize(to: ThreadClock(last: now(), depth: 0))
        pthread_setspecific(clockKey, p)
        return p
    }

    /// Starts this thread's clock afresh (the time since the last op is not an op's).
    public static func mark() {
        guard isEnabled else { return }
        threadClock().pointee.last = now()
    }

    /// Charges the time since this thread's previous mark to `name`, unless a timed entry is open.
    static func forwardOp(_ name: String) {
        let clock = threadClock()
        guard clock.pointee.depth == 0 else { return }
        let t = now()
        add("forward " + name, t - clock.pointee.last)
        clock.pointee.last = t
    }

    static func add(_ name: String, _ seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        totals[name, default: Entry()].seconds += seconds
        totals[name, default: Entry()].calls += 1
    }

    /// Times `body` as `name` (a backward closure, a gradient sum).
    @inline(__always)
    static func timed<R>(_ name: @autoclosure () -> String, _ body: () -> R) -> R {
        guard isEnabled else { return body() }
        let clock = threadClock()
        let t0 = now()
        clock.pointee.depth += 1
        let result = body()
        clock.pointee.depth -= 1
        let t1 = now()
        // A nested entry (a backward run inside a recomputed layer's backward) is part of its parent.
        if clock.pointee.depth == 0 { add(name(), t1 - t0) }
        clock.pointee.last = t1
        return result
    }

    public static func reset() {
        lock.lock(); defer { lock.unlock() }
        totals = [:]
    }

    public static var entries: [(name: String, entry: Entry)] {
        lock.lock(); defer { lock.unlock() }
        return totals.map { ($0.key, $0.value) }.sorted { $0.entry.seconds > $1.entry.seconds }
    }
}
