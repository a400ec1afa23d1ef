import ArgumentParser
import Foundation
import LoomTensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks; each prints a last line of JSON.",
        subcommands: [BenchGemm.self, BenchTrainStep.self, BenchGenerate.self])
}

/// Times `cblas_sgemm` through Loom's BLAS bridge on row-major random matrices.
struct BenchGemm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Single-precision GEMM throughput (C = A·B, row-major), best of the repeats.")

    @Option(help: "Rows of A and C.") var m = 1024
    @Option(help: "Columns of B and C.") var n = 1024
    @Option(help: "Columns of A, rows of B.") var k = 1024
    @Option(help: "Timed repetitions after one warm-up.") var repeats = 10
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard m > 0, n > 0, k > 0 else { throw ValidationError("--m, --n and --k must be positive") }
        guard repeats > 0 else { throw ValidationError("--repeats must be positive") }
    }

    func run() throws {
        try runtime.apply()
        var generator = RandomGenerator(seed: 0)
        let a = Tensor.randomUniform([m, k], low: -0.5, high: 0.5, generator: &generator)
        let b = Tensor.randomUniform([k, n], low: -0.5, high: 0.5, generator: &generator)
        let c = Tensor(zeros: [m, n])
        func multiply() {
            BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n,
                       beta: 0, c: c.pointer, ldc: n)
        }
        multiply()  // warm-up: loads OpenBLAS, spins up its threads
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            multiply()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        withExtendedLifetime((a, b, c)) {}
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let best = times.min()!, median = times.sorted()[times.count / 2]
        let info = BLAS.info
        print("sgemm \(m)×\(k) · \(k)×\(n), \(info.threads) threads, kernel \(info.coreName)")
        print(String(format: "best %.4f s (%.1f GFLOP/s), median %.4f s (%.1f GFLOP/s)",
                     best, flops / best / 1e9, median, flops / median / 1e9))
        let result: [String: Any] = [
            "m": m, "n": n, "k": k, "threads": info.threads, "core": info.coreName,
            "best_s": best, "median_s": median,
            "gflops": (flops / best / 1e7).rounded() / 100, "median_gflops": (flops / median / 1e7).rounded() / 100,
        ]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}
