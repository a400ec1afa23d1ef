import XCTest
import LoomTensor
@testable import LoomTraining

final class GradientClippingTests: XCTestCase {
    struct File: Decodable {
        let cases: [Case]
    }

    struct Case: Decodable {
        let seed: Int
        let maxNorm: Double
        let grads: [[Double]]
        let tensorNorms: [Double]
        let totalNorm: Double
        let clipped: [[Double]]
        enum CodingKeys: String, CodingKey {
            case seed, grads, clipped, maxNorm = "max_norm", tensorNorms = "tensor_norms", totalNorm = "total_norm"
        }
    }

    /// Naive twin of `float32Norm`: Double accumulation, the accurate answer.
    static func doubleNorm(_ values: [Float]) -> Double {
        values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    func testMatchesPyTorch() throws {
        let file = try Fixture.load(File.self, "clip")
        var grads = Discrepancy()
        var maxNormRelative = 0.0
        for fixture in file.cases {
            let parameters = fixture.grads.map { values -> Tensor in
                let p = Tensor(zeros: [values.count])
                p.grad = Tensor(shape: [values.count], scalars: Fixture.floats(values))
                return p
            }
            for (parameter, expected) in zip(parameters, fixture.tensorNorms) {
                let norm = parameter.grad!.withUnsafeBufferPointer { float32Norm($0) }
                XCTAssertEqual(Double(norm), expected, accuracy: 1e-6 * expected, "seed \(fixture.seed): tensor norm")
                XCTAssertEqual(Self.doubleNorm(parameter.grad!.scalars), expected, accuracy: 1e-6 * expected)
            }
            let total = clipGradientNorm(parameters, maxNorm: fixture.maxNorm)
            maxNormRelative = max(maxNormRelative, abs(total - fixture.totalNorm) / fixture.totalNorm)
            XCTAssertEqual(total, fixture.totalNorm, accuracy: 1e-6 * fixture.totalNorm, "seed \(fixture.seed): total norm")
            for (parameter, expected) in zip(parameters, fixture.clipped) {
                grads.compare(parameter.grad!.scalars, Fixture.floats(expected), "seed \(fixture.seed): clipped gradient")
            }
        }
        print("clip_grad_norm_ vs PyTorch: max relative norm diff \(maxNormRelative); clipped gradients: \(grads)")
    }

    func testLeavesSmallGradientsAndIgnoresMissingOnes() {
        let a = Tensor(zeros: [2]), b = Tensor(zeros: [3]), frozen = Tensor(zeros: [4])
        a.grad = Tensor(shape: [2], scalars: [0.3, 0.4])
        b.grad = nil
        let total = clipGradientNorm([a, b, frozen], maxNorm: 1)
        XCTAssertEqual(total, 0.5, accuracy: 1e-7)
        // coef = 1/(0.5+1e-6) > 1 clamps to 1: unchanged.
        XCTAssertEqual(a.grad!.scalars, [0.3, 0.4])
        XCTAssertNil(b.grad)
        XCTAssertEqual(clipGradientNorm([b, frozen], maxNorm: 1), 0)
    }

    func testClipsToMaxNorm() {
        let a = Tensor(zeros: [2]), b = Tensor(zeros: [1])
        a.grad = Tensor(shape: [2], scalars: [3, 0])
        b.grad = Tensor(shape: [1], scalars: [4])
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 1), 5)
        let clipped = GradientClippingTests.doubleNorm(a.grad!.scalars + b.grad!.scalars)
        XCTAssertEqual(clipped, 1, accuracy: 1e-6)
    }

    func testNonFiniteGradientsPropagate() {
        let a = Tensor(zeros: [2])
        a.grad = Tensor(shape: [2], scalars: [.nan, 1])
        XCTAssertTrue(clipGradientNorm([a], maxNorm: 1).isNaN)
        XCTAssertTrue(a.grad!.scalars.allSatisfy(\.isNaN))
    }

    func testFloat32NormAgreesWithDoubleOnLargeAwkwardSizes() {
        var generator = RandomGenerator(seed: 7)
        for n in [0, 1, 7, 8, 9, 1000, 65_537] {
            let values = generator.normal(count: n)
            let fast = values.withUnsafeBufferPointer { float32Norm($0) }
            let naive = Self.doubleNorm(values)
            XCTAssertEqual(Double(fast), naive, accuracy: 1e-5 * max(naive, 1), "n = \(n)")
        }
    }
}
