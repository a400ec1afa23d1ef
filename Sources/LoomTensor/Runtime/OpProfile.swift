import Foundation

/// Where a step's time goes, op by op (like `torch.profiler`'s key averages): wall time per op name,
/// forward and backward apart, summed over every thread. Off unless `OpProfile.isEnabled`; then each
/// recorded op costs two clock reads.
///
/// Forward time is measured between consecutive ops on a thread (an op's time is what ran on that
/// thread since the previous op ended, so it includes the glue around it); backward time is the
/// op's backward closure itself, plus "accumulate" for the sums where a tensor feeds several ops.
public enum OpProfile {
    nonisolated(unsafe) public static var isEnabled = false

    public struct Entry: Sendable {
        public var seconds: Double = 0
        public var calls = 0
    }

    nonisolated(unsafe) private static var totals: [String: Entry] = [:]
    private static let lock = NSLock()
    nonisolated(unsafe) private static var lastKey: pthread_key_t = {
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

    /// This thread's time of the previous mark.
    private static func lastMark() -> UnsafeMutablePointer<Double> {
        if let p = pthread_getspecific(lastKey) { return p.assumingMemoryBound(to: Double.self) }
        let p = malloc(MemoryLayout<Double>.size)!.assumingMemoryBound(to: Double.self)
        p.pointee = now()
        pthread_setspecific(lastKey, p)
        return p
    }

    /// Starts this thread's clock afresh (the time since the last op is not an op's).
    public static func mark() {
        guard isEnabled else { return }
        lastMark().pointee = now()
    }

    /// Charges the time since this thread's previous mark to `name`.
    static func forwardOp(_ name: String) {
        let last = lastMark()
        let t = now()
        add("forward " + name, t - last.pointee)
        last.pointee = t
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
        let t0 = now()
        let result = body()
        add(name(), now() - t0)
        mark()
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
