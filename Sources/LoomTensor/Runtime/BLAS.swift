import CLoomBLAS
import Foundation

/// Loom's single door to OpenBLAS's `cblas_sgemm`.
///
/// The library is loaded lazily by CLoomBLAS with `OPENBLAS_CORETYPE` chosen from CPUID (AVX-512 →
/// SkylakeX, AVX2 → Haswell) unless the user set it: Debian 12's OpenBLAS 0.3.21 misdetects recent
/// CPUs as "Prescott" and would run its generic kernels five times slower.
public enum BLAS {
    /// How many GEMM calls have run (tests use it to prove frozen weights get no weight-gradient GEMM).
    nonisolated(unsafe) public private(set) static var callCount = 0
    private static let counterLock = NSLock()

    private static let loaded: Void = {
        if loom_blas_load() != 0 {
            let reason = loom_blas_error().map { String(cString: $0) } ?? "unknown error"
            fatalError("Loom cannot run without OpenBLAS: \(reason)")
        }
    }()

    public static func ensureLoaded() { _ = loaded }

    /// Throws (instead of stopping the process) when OpenBLAS cannot be loaded; programs call this
    /// at start-up so that a missing library is a clear error, not a crash in the first GEMM.
    public static func checkAvailable() throws {
        if loom_blas_load() != 0 {
            throw TensorError(loom_blas_error().map { String(cString: $0) } ?? "OpenBLAS could not be loaded")
        }
    }

    public struct Info: Codable, Sendable {
        public var library: String
        public var coreName: String
        public var coreTypeEnvironment: String
        public var coreTypeChosenByLoom: Bool
        public var cpuVectorBits: Int
        public var threads: Int
        public var config: String
    }

    public static var info: Info {
        ensureLoaded()
        Threads.syncBLASIfNeeded()
        return Info(library: String(cString: loom_blas_library_path()),
                    coreName: String(cString: loom_blas_corename()),
                    coreTypeEnvironment: String(cString: loom_blas_coretype_env()),
                    coreTypeChosenByLoom: loom_blas_coretype_chosen_by_loom() != 0,
                    cpuVectorBits: Int(loom_cpu_vector_bits()),
                    threads: Int(loom_blas_get_threads()),
                    config: String(cString: loom_blas_config()))
    }

    /// Row-major C = alpha·op(A)·op(B) + beta·C, where op(A) is [m, k] and op(B) is [k, n].
    @inlinable
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            scale(c, rows: m, cols: n, ld: ldc, by: beta)
            return
        }
        prepare()
        loom_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b,
                   Int32(ldb), beta, c, Int32(ldc))
    }

    @usableFromInline
    static func prepare() {
        ensureLoaded()
        Threads.syncBLASIfNeeded()
        counterLock.lock()
        callCount += 1
        counterLock.unlock()
    }

    @usableFromInline
    static func scale(_ c: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, by beta: Float) {
        for i in 0..<rows {
            for j in 0..<cols { c[i * ld + j] = beta == 0 ? 0 : c[i * ld + j] * beta }
        }
    }

    /// Runs `body` with OpenBLAS limited to one thread, so that Loom's workers may each call GEMM
    /// (per-head attention) without oversubscribing the cores.
    public static func withSingleThreadedGEMM<R>(_ body: () throws -> R) rethrows -> R {
        ensureLoaded()
        Threads.syncBLASIfNeeded()
        let previous = Int(loom_blas_get_threads())
        if previous == 1 { return try body() }
        loom_blas_set_threads(1)
        defer { loom_blas_set_threads(Int32(previous)) }
        return try body()
    }
}
