import Foundation

/// A seeded, counter-based random generator: value i of a draw depends only on (seed, position), so
/// results are identical whatever the thread count, and the state is two integers (easy to checkpoint).
public struct RandomGenerator: Codable, Sendable, Equatable {
    public var seed: UInt64
    /// How many values have been drawn so far.
    public var offset: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        self.offset = 0
    }

    /// SplitMix64 finaliser of (seed, index): a high-quality 64-bit hash.
    @inline(__always)
    static func mix(_ seed: UInt64, _ index: UInt64) -> UInt64 {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits, at absolute draw index `index`.
    @inline(__always)
    static func uniform(_ seed: UInt64, _ index: UInt64) -> Float {
        Float(mix(seed, index) >> 40) * (1.0 / 16_777_216.0)
    }

    /// Reserves `count` draws and returns the index of the first.
    public mutating func advance(by count: Int) -> UInt64 {
        defer { offset &+= UInt64(count) }
        return offset
    }

    /// `count` uniforms in [0, 1).
    public mutating func uniform(count: Int) -> [Float] {
        let start = advance(by: count)
        return (0..<count).map { RandomGenerator.uniform(seed, start &+ UInt64($0)) }
    }

    /// `count` standard normals (Box–Muller on pairs of uniforms).
    public mutating func normal(count: Int) -> [Float] {
        let start = advance(by: 2 * count)
        return (0..<count).map { i in
            let u1 = Double(RandomGenerator.uniform(seed, start &+ UInt64(2 * i))) + 0.5 / 16_777_216.0
            let u2 = Double(RandomGenerator.uniform(seed, start &+ UInt64(2 * i + 1)))
            return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
    }

    /// A uniform integer in 0..<bound.
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(RandomGenerator.mix(seed, advance(by: 1)) % UInt64(bound))
    }
}

extension Tensor {
    /// Normal(mean, std) samples.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout RandomGenerator) -> Tensor {
        let values = generator.normal(count: shape.reduce(1, *)).map { $0 * std + mean }
        return Tensor(shape: shape, scalars: values)
    }

    /// Uniform samples in [low, high).
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, generator: inout RandomGenerator) -> Tensor {
        let values = generator.uniform(count: shape.reduce(1, *)).map { low + (high - low) * $0 }
        return Tensor(shape: shape, scalars: values)
    }
}

/// Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1−p), as
/// torch.nn.functional.dropout in training. The mask comes from `generator` (seeded, thread-count
/// independent); outside training, or with p = 0, the input passes through.
public func dropout(_ x: Tensor, probability p: Float, generator: inout RandomGenerator, isTraining: Bool = true) -> Tensor {
    precondition(p >= 0 && p < 1 || p == 1, "dropout probability \(p) outside [0, 1]")
    guard isTraining, p > 0 else { return x }
    if p == 1 { return x * 0 }
    let n = x.count
    let seed = generator.seed, start = generator.advance(by: n)
    let keep = 1 - p, scale = 1 / keep
    let mask = Tensor(uninitialized: x.shape)
    let mp = mask.pointer
    Threads.parallelFor(n, grain: 16384) { range in
        for i in range { mp[i] = RandomGenerator.uniform(seed, start &+ UInt64(i)) < keep ? scale : 0 }
    }
    let out = Kernels.binary(x, mask, .multiply)
    return Tensor.record("dropout", out, inputs: [x]) { g in [Kernels.binary(g, mask, .multiply)] }
}
