import XCTest
@testable import LoomTensor

/// Deterministic test data.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1, requiresGradient: Bool = false) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    let t = Tensor.randomNormal(shape, std: scale, generator: &generator)
    t.requiresGradient = requiresGradient
    return t
}

/// Asserts two tensors agree elementwise within atol + rtol·|expected|, reporting the worst element.
func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 1e-4,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let a = actual.scalars, e = expected.scalars
    var worst = 0, worstExcess: Float = -.infinity
    for i in 0..<a.count {
        let excess = abs(a[i] - e[i]) - (atol + rtol * abs(e[i]))
        if excess > worstExcess || a[i].isNaN != e[i].isNaN { worstExcess = a[i].isNaN != e[i].isNaN ? .infinity : excess; worst = i }
    }
    if a.count > 0 {
        XCTAssertLessThanOrEqual(worstExcess, 0,
            "\(message): element \(worst) is \(a[worst]), expected \(e[worst]) (shape \(actual.shape))", file: file, line: line)
    }
}

/// Checks the analytic gradient of `f` against central finite differences for every element of every
/// input. The scalar probed is Σ f(x) ⊙ w for a fixed random w, accumulated in Double.
func checkGradients(_ inputs: [Tensor], step: Float = 1e-2, atol: Double = 3e-3, rtol: Double = 1e-2,
                    _ message: String = "", file: StaticString = #filePath, line: UInt = #line,
                    _ f: ([Tensor]) -> Tensor) {
    for input in inputs { input.requiresGradient = true; input.zeroGradient() }
    let probe = f(inputs)
    let weights = randomTensor(probe.shape, seed: 991)
    let loss = sum(probe * weights)
    loss.backward()
    let w = weights.scalars
    func objective() -> Double {
        let out = withoutGradients { f(inputs) }.scalars
        var total = 0.0
        for i in 0..<out.count { total += Double(out[i]) * Double(w[i]) }
        return total
    }
    for (n, input) in inputs.enumerated() {
        guard let analytic = input.grad?.scalars else {
            XCTFail("\(message): input \(n) got no gradient", file: file, line: line)
            continue
        }
        let p = input.pointer
        var worst = (excess: -Double.infinity, index: 0, a: 0.0, n: 0.0)
        for i in 0..<input.count {
            let saved = p[i]
            p[i] = saved + step
            let plus = objective()
            p[i] = saved - step
            let minus = objective()
            p[i] = saved
            let numeric = (plus - minus) / (2 * Double(step))
            let excess = abs(Double(analytic[i]) - numeric) - (atol + rtol * abs(numeric))
            if excess > worst.excess { worst = (excess, i, Double(analytic[i]), numeric) }
        }
        XCTAssertLessThanOrEqual(worst.excess, 0,
            "\(message): input \(n) \(input.shape) element \(worst.index): analytic \(worst.a) vs numeric \(worst.n)",
            file: file, line: line)
    }
    for input in inputs { input.requiresGradient = false }
}
