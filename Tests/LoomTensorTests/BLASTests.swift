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

    /// Every transpose combination, with padded leading dimensions, for a full GEMM and for the
    /// single-row and single-column shapes that go to sgemv; beta = 0 must ignore NaN already in C.
    func testSgemmTransposeFlagsAgreeWithReference() {
        for (m, n, k) in [(13, 17, 19), (1, 17, 19), (13, 1, 19), (1, 1, 19)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for beta: Float in [3, 0] {
                    let (pad, ldc) = (3, n + 2)
                    let aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n]
                    let a = randomTensor(aShape, seed: 1), b = randomTensor(bShape, seed: 2)
                    // Copies with `pad` extra columns, so lda and ldb exceed the row length.
                    func padded(_ x: Tensor) -> Tensor {
                        let (rows, cols) = (x.shape[0], x.shape[1])
                        let out = Tensor(repeating: .nan, shape: [rows, cols + pad])
                        for r in 0..<rows { for c in 0..<cols { out.pointer[r * (cols + pad) + c] = x.scalars[r * cols + c] } }
                        return out
                    }
                    let ap = padded(a), bp = padded(b)
                    let c = Tensor(repeating: beta == 0 ? .nan : 0.5, shape: [m, ldc])
                    BLAS.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 2, a: ap.pointer, lda: aShape[1] + pad,
                               b: bp.pointer, ldb: bShape[1] + pad, beta: beta, c: c.pointer, ldc: ldc)
                    let ref = Kernels.Reference.matmul(ta ? a.transposed() : a, tb ? b.transposed() : b).scalars
                    let label = "m \(m) n \(n) k \(k) transA \(ta) transB \(tb) beta \(beta)"
                    for r in 0..<m {
                        for col in 0..<n {
                            let expected = 2 * ref[r * n + col] + beta * 0.5
                            XCTAssertEqual(c.scalars[r * ldc + col], expected, accuracy: 1e-4, label)
                        }
                    }
                }
            }
        }
    }
}
