import XCTest
@testable import LoomTensor

final class BLASTests: XCTestCase {
    /// OpenBLAS must run a kernel that matches the CPU, with nothing set by the user.
    func testCoreTypeMatchesTheProcessor() {
        let info = BLAS.info
        XCTAssertFalse(info.library.isEmpty)
        if let userChoice = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !userChoice.isEmpty,
           !info.coreTypeChosenByLoom {
            XCTAssertEqual(info.coreTypeEnvironment, userChoice, "a core type the user set is kept")
            return
        }
        switch info.cpuVectorBits {
        case 512: XCTAssertEqual(info.coreName.lowercased(), "skylakex", "\(info)")
        case 256: XCTAssertEqual(info.coreName.lowercased(), "haswell", "\(info)")
        default: XCTAssertNotEqual(info.coreName, "", "\(info)")
        }
    }

    func testSgemmTransposeFlagsAgreeWithReference() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, n, k) = (13, 17, 19)
            let a = randomTensor(ta ? [k, m] : [m, k], seed: 1), b = randomTensor(tb ? [n, k] : [k, n], seed: 2)
            let c = Tensor(repeating: 0.5, shape: [m, n])
            BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 2, a: a.pointer, lda: a.shape[1],
                       b: b.pointer, ldb: b.shape[1], beta: 3, c: c.pointer, ldc: n)
            let ref = Kernels.Reference.matmul(ta ? a.transposed() : a, tb ? b.transposed() : b)
            let expected = Tensor(shape: [m, n], scalars: ref.scalars.map { 2 * $0 + 1.5 })
            assertClose(c, expected, atol: 1e-4, "transA \(ta) transB \(tb)")
        }
    }
}
