import Foundation

/// SIMD transcendental functions used by the fused kernels. Accuracy: a few ulp over the float range
/// (tested against Foundation's `exp` in Tests/LoomTensorTests/KernelParityTests).
public typealias FloatVector = SIMD16<Float>

extension Kernels {
    /// e^x, Cephes-style: range reduction by ln 2 and a degree-6 polynomial. Returns 0 below −87.3
    /// (e^x would be subnormal) and +inf above 88.7.
    @inline(__always)
    public static func exp(_ x: FloatVector) -> FloatVector {
        let log2e: Float = 1.44269504088896341
        let ln2Hi: Float = 0.693359375
        let ln2Lo: Float = -2.12194440e-4
        // Clamp and round with compares and the 1.5·2²³ trick: the generic SIMD clamped/rounded
        // compile to per-lane calls.
        var clamped = x
        clamped.replace(with: -87.33654, where: clamped .< -87.33654)
        clamped.replace(with: 88.72283, where: clamped .> 88.72283)
        let magic = FloatVector(repeating: 12_582_912)
        let n = (clamped * log2e + magic) - magic
        let r = clamped - n * ln2Hi - n * ln2Lo
        var p = FloatVector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * r * r + r + 1
        // 2^n built from the exponent bits; n ∈ [−126, 128] after clamping, so split to stay finite.
        // n is integral and |n| ≤ 128: adding 1.5·2²³ puts it in the low mantissa bits, so the integer
        // comes out of a bit cast (Swift's SIMD Float→Int conversion is a slow scalar loop).
        let ni = unsafeBitCast(n + magic, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let half = ni &>> 1
        let scaleA = unsafeBitCast((half &+ 127) &<< 23, to: FloatVector.self)
        let scaleB = unsafeBitCast((ni &- half &+ 127) &<< 23, to: FloatVector.self)
        var result = y * scaleA * scaleB
        result.replace(with: 0, where: x .< -87.33654)
        result.replace(with: .infinity, where: x .> 88.72283)
        result.replace(with: x, where: x .!= x)  // NaN stays NaN
        return result
    }

    @inline(__always)
    public static func sigmoid(_ x: FloatVector) -> FloatVector { 1 / (1 + exp(-x)) }

    /// tanh through e^(2x), exact at ±inf, with the odd series near 0 where the formula would cancel.
    @inline(__always)
    public static func tanh(_ x: FloatVector) -> FloatVector {
        let e = exp(2 * x)
        var result = 1 - 2 / (e + 1)
        let x2 = x * x
        var poly = FloatVector(repeating: -17.0 / 315.0)
        poly = poly * x2 + (2.0 / 15.0 as Float)
        poly = poly * x2 - (1.0 / 3.0 as Float)
        let series = x + x * x2 * poly
        result.replace(with: series, where: x2 .< 0.00390625)  // |x| < 1/16
        return result
    }

    /// Applies `f` in SIMD blocks of 16 with a padded tail: `dst[i] = f(src[i])`.
    @inline(__always)
    static func mapVectorized(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int,
                              _ f: (FloatVector) -> FloatVector) {
        var i = 0
        let raw = UnsafeRawPointer(src)
        while i + 16 <= count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
            UnsafeMutableRawPointer(dst).storeBytes(of: f(v), toByteOffset: i * 4, as: FloatVector.self)
            i += 16
        }
        if i < count {
            var v = FloatVector(repeating: 0)
            for j in 0..<(count - i) { v[j] = src[i + j] }
            let r = f(v)
            for j in 0..<(count - i) { dst[i + j] = r[j] }
        }
    }
}
