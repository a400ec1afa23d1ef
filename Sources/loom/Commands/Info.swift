import ArgumentParser
import Foundation
import LoomTensor

/// Prints what Loom runs on: the OpenBLAS library and kernel, the row kernels' build, threads, CPU vector width.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the BLAS kernel, threads and CPU features Loom uses.")

    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        try runtime.apply()
        let info = BLAS.info
        print("OpenBLAS library : \(info.library)")
        print("OpenBLAS config  : \(info.config)")
        print("kernel (core)    : \(info.coreName)")
        print("OPENBLAS_CORETYPE: \(info.coreTypeEnvironment.isEmpty ? "(unset: OpenBLAS detects)" : info.coreTypeEnvironment)\(info.coreTypeChosenByLoom ? " (chosen by Loom from CPUID)" : " (set by the user)")")
        print("CPU vector width : \(info.cpuVectorBits == 0 ? "no AVX2" : "\(info.cpuVectorBits) bits")")
        print("row kernels      : \(Kernels.rowKernelsVariant) (CLoomKernels: SwiGLU, softmax, norms, rotary)")
        print("threads          : \(Threads.count) (OpenBLAS: \(info.threads))")
    }
}
