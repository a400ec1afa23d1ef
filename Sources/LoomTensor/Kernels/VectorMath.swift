import CLoomKernels
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

    /// erf(x), odd in x: x·P(x²) (as x + x·(P(x²) − 1)) for |x| ≤ 1, and 1 − e^(−x²)·R(1/|x|) for 1 < |x| < 4, where R fits
    /// erfc(x)·e^(x²); ±1 beyond (erf(4) rounds to 1 in Float). P (degree 6 in x²) and R (degree 10)
    /// are least-squares fits made for Loom by tools/fit_erf.py. At most 1.34 ulp from erf in Double on
    /// a grid of step 1e-4 over [−6, 6] (KernelParityTests asserts ≤ 2).
    @inline(__always)
    public static func erf(_ x: FloatVector) -> FloatVector {
        let a = unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: FloatVector.self)
        let x2 = x * x
        var p = FloatVector(repeating: 7.898209878476337e-05)
        p = p * x2 - 8.024353883229196e-04
        p = p * x2 + 5.190053489059210e-03
        p = p * x2 - 2.685480937361717e-02
        p = p * x2 + 1.128361225128174e-01
        p = p * x2 - 3.761262893676758e-01
        p = p * x2 + 1.283791661262512e-01  // the x⁰ coefficient's 1.1283792 less 1: x + x·p rounds better
        var result = x + x * p
        var c = a
        c.replace(with: 4, where: a .> 4)
        let t = 1 / c
        var r = FloatVector(repeating: -3.821760416030884e-02)
        r = r * t + 2.646626234054565e-01
        r = r * t - 8.106041550636292e-01
        r = r * t + 1.424004912376404
        r = r * t - 1.524053931236267
        r = r * t + 8.994859457015991e-01
        r = r * t - 6.926850974559784e-02
        r = r * t - 2.851863205432892e-01
        r = r * t + 3.015458118170500e-03
        r = r * t + 5.637192130088806e-01
        r = r * t + 2.596134800114669e-05
        var tail = 1 - exp(-(c * c)) * r
        tail.replace(with: -tail, where: x .< 0)
        result.replace(with: tail, where: a .> 1)
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

extension Kernels {
    /// Which build of CLoomKernels (the C row kernels) the loader picked for this CPU, for `loom info`.
    public static var rowKernelsVariant: String { String(cString: loom_kernels_variant()) }
}
