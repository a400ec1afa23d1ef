import Foundation
import XCTest
import LoomTensor
@testable import LoomTraining

/// Fixtures written by tools/fixtures/make_optimizer_fixtures.py (PyTorch, ATEN_CPU_CAPABILITY=default).
enum Fixture {
    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw XCTSkip("fixture Fixtures/\(name).json is missing; run tools/fixtures/make_optimizer_fixtures.py")
        }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    /// JSON numbers written from float32 values; checks each converts to Float without rounding.
    static func floats(_ values: [Double], file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        values.map { value in
            let float = Float(value)
            XCTAssertEqual(Double(float), value, "fixture value \(value) is not a float32", file: file, line: line)
            return float
        }
    }
}

struct GroupSpec: Decodable {
    let lr: Double
    let weightDecay: Double
    let members: [Int]
    enum CodingKeys: String, CodingKey { case lr, weightDecay = "weight_decay", members }
}

struct StepRecord: Decodable {
    let grads: [[Double]?]
    let totalNorm: Double?
    let learningRates: [Double]
    let params: [[Double]]
    enum CodingKeys: String, CodingKey {
        case grads, totalNorm = "total_norm", learningRates = "learning_rates", params
    }
}

/// Largest differences seen between Swift results and PyTorch's.
struct Discrepancy: CustomStringConvertible {
    var maxAbsolute: Float = 0
    var maxRelative: Float = 0
    var maxULPs: Int = 0
    var compared = 0
    var unequal = 0

    /// Records `actual` vs `expected` and asserts |diff| ≤ 1e-6 absolute or relative.
    mutating func compare(_ actual: [Float], _ expected: [Float], _ what: @autoclosure () -> String,
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what(), file: file, line: line)
        for (a, e) in zip(actual, expected) {
            let diff = abs(a - e)
            compared += 1
            if a != e { unequal += 1 }
            maxAbsolute = max(maxAbsolute, diff)
            maxRelative = max(maxRelative, diff / max(abs(e), .leastNormalMagnitude))
            maxULPs = max(maxULPs, ulpDistance(a, e))
            if !(diff <= 1e-6 || diff <= 1e-6 * abs(e)) {
                XCTFail("\(what()): \(a) vs PyTorch \(e) (|diff| \(diff))", file: file, line: line)
                return
            }
        }
    }

    var description: String {
        "max |diff| \(maxAbsolute), max relative \(maxRelative), max \(maxULPs) ulp, \(unequal) of \(compared) values not bitwise equal"
    }
}

/// Distance in representable Float32 values (0 when bitwise equal or both zero).
func ulpDistance(_ a: Float, _ b: Float) -> Int {
    func ordered(_ x: Float) -> Int64 {
        let bits = Int64(Int32(bitPattern: x.bitPattern))
        return bits < 0 ? Int64(Int32.min) - bits : bits
    }
    return Int(abs(ordered(a) - ordered(b)))
}

func makeParameters(shapes: [[Int]], values: [[Double]], names: [String]) -> [Tensor] {
    zip(zip(shapes, values), names).map { pair, name in
        let tensor = Tensor(shape: pair.0, scalars: Fixture.floats(pair.1))
        tensor.requiresGradient = true
        tensor.name = name
        return tensor
    }
}

func makeGroups(_ specs: [GroupSpec], parameters: [Tensor]) -> [ParameterGroup] {
    specs.map { spec in
        ParameterGroup(parameters: spec.members.map { parameters[$0] }, learningRate: spec.lr, weightDecay: spec.weightDecay)
    }
}

/// Gives each parameter the recorded gradient, or none where the fixture has null.
func setGradients(_ parameters: [Tensor], _ grads: [[Double]?]) {
    for (parameter, grad) in zip(parameters, grads) {
        parameter.grad = grad.map { Tensor(shape: parameter.shape, scalars: Fixture.floats($0)) }
    }
}
