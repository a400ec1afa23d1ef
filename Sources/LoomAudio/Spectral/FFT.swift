import Foundation

/// A complex discrete Fourier transform of one size, X[k] = Σₙ x[n]·e^(−2πikn/N), planned once and
/// applied many times (one plan serves all threads; each call brings its own scratch).
///
/// Mixed-radix Stockham autosort: N is factored into 4s, 2s, 3s, 5s and any remaining primes (done by
/// a direct DFT of that radix), each stage reads with stride N/R and writes in order, so there is no
/// bit-reversal pass. Whisper's N = 400 is handled as a 200-point complex transform (4·2·5·5) by `RealFFT`.
public struct FFT: Sendable {
    public let size: Int
    /// Radix of each stage, in the order applied.
    let radices: [Int]
    /// Per stage: twiddles w^(r·k) for k in 0..<span and r in 1..<R, at [k·(R−1) + r − 1], where
    /// span is the product of the earlier radices and w = e^(−2πi/(span·R)).
    let twiddleRe: [[Float]], twiddleIm: [[Float]]
    /// For generic radices: e^(−2πi·m/R) for m in 0..<R.
    let rootsRe: [Int: [Float]], rootsIm: [Int: [Float]]

    public init(size: Int) {
        precondition(size > 0, "FFT size must be positive, got \(size)")
        self.size = size
        var radices: [Int] = [], rest = size
        while rest % 4 == 0 { radices.append(4); rest /= 4 }
        for p in [2, 3, 5] { while rest % p == 0 { radices.append(p); rest /= p } }
        var p = 7
        while rest > 1 {
            while rest % p == 0 { radices.append(p); rest /= p }
            p += 2
        }
        self.radices = radices
        var tre: [[Float]] = [], tim: [[Float]] = []
        var rootsRe: [Int: [Float]] = [:], rootsIm: [Int: [Float]] = [:]
        var span = 1
        for r in radices {
            var re = [Float](repeating: 0, count: span * (r - 1)), im = re
            for k in 0..<span {
                for m in 1..<r {
                    let angle = -2 * Double.pi * Double(m * k) / Double(span * r)
                    re[k * (r - 1) + m - 1] = Float(cos(angle))
                    im[k * (r - 1) + m - 1] = Float(sin(angle))
                }
            }
            tre.append(re)
            tim.append(im)
            if r > 5 && rootsRe[r] == nil {
                rootsRe[r] = (0..<r).map { Float(cos(-2 * Double.pi * Double($0) / Double(r))) }
                rootsIm[r] = (0..<r).map { Float(sin(-2 * Double.pi * Double($0) / Double(r))) }
            }
            span *= r
        }
        twiddleRe = tre
        twiddleIm = tim
        self.rootsRe = rootsRe
        self.rootsIm = rootsIm
    }

    /// Transforms (re, im) in place. `scratchRe`/`scratchIm` hold `size` floats each.
    public func transform(re: UnsafeMutablePointer<Float>, im: UnsafeMutablePointer<Float>,
                          scratchRe: UnsafeMutablePointer<Float>, scratchIm: UnsafeMutablePointer<Float>) {
        var (srcRe, srcIm, dstRe, dstIm) = (re, im, scratchRe, scratchIm)
        var span = 1
        for (stage, r) in radices.enumerated() {
            twiddleRe[stage].withUnsafeBufferPointer { twr in
                twiddleIm[stage].withUnsafeBufferPointer { twi in
                    pass(r, span, srcRe, srcIm, dstRe, dstIm, twr.baseAddress, twi.baseAddress)
                }
            }
            swap(&srcRe, &dstRe)
            swap(&srcIm, &dstIm)
            span *= r
        }
        if srcRe != re {
            re.update(from: srcRe, count: size)
            im.update(from: srcIm, count: size)
        }
    }

    /// One Stockham stage: for j = b·span + k, gathers x[j + r·N/R]·w^(r·k), takes a radix-R DFT and
    /// stores it at b·span·R + k + s·span.
    private func pass(_ radix: Int, _ span: Int,
                      _ xr: UnsafeMutablePointer<Float>, _ xi: UnsafeMutablePointer<Float>,
                      _ yr: UnsafeMutablePointer<Float>, _ yi: UnsafeMutablePointer<Float>,
                      _ twr: UnsafePointer<Float>?, _ twi: UnsafePointer<Float>?) {
        let stride = size / radix, blocks = stride / span
        switch radix {
        case 2:
            for b in 0..<blocks {
                for k in 0..<span {
                    let j = b * span + k, o = b * span * 2 + k
                    let ar = xr[j], ai = xi[j]
                    var br = xr[j + stride], bi = xi[j + stride]
                    if k > 0 { (br, bi) = (br * twr![k] - bi * twi![k], br * twi![k] + bi * twr![k]) }
                    yr[o] = ar + br; yi[o] = ai + bi
                    yr[o + span] = ar - br; yi[o + span] = ai - bi
                }
            }
        case 3:
            let c = Float(-0.5), s = Float(-(3.0).squareRoot() / 2)  // e^(−2πi/3) = c + i·s
            for b in 0..<blocks {
                for k in 0..<span {
                    let j = b * span + k, o = b * span * 3 + k
                    var (r0, i0, r1, i1, r2, i2) = (xr[j], xi[j], xr[j + stride], xi[j + stride],
                                                    xr[j + 2 * stride], xi[j + 2 * stride])
                    if k > 0 {
                        let t = k * 2
                        (r1, i1) = (r1 * twr![t] - i1 * twi![t], r1 * twi![t] + i1 * twr![t])
                        (r2, i2) = (r2 * twr![t + 1] - i2 * twi![t + 1], r2 * twi![t + 1] + i2 * twr![t + 1])
                    }
                    let sr = r1 + r2, si = i1 + i2, dr = r1 - r2, di = i1 - i2
                    yr[o] = r0 + sr; yi[o] = i0 + si
                    let mr = r0 + c * sr, mi = i0 + c * si
                    // (d)·(i·s): real −s·di, imag s·dr
                    yr[o + span] = mr - s * di; yi[o + span] = mi + s * dr
                    yr[o + 2 * span] = mr + s * di; yi[o + 2 * span] = mi - s * dr
                }
            }
        case 4:
            for b in 0..<blocks {
                for k in 0..<span {
                    let j = b * span + k, o = b * span * 4 + k
                    let r0 = xr[j], i0 = xi[j]
                    var r1 = xr[j + stride], i1 = xi[j + stride]
                    var r2 = xr[j + 2 * stride], i2 = xi[j + 2 * stride]
                    var r3 = xr[j + 3 * stride], i3 = xi[j + 3 * stride]
                    if k > 0 {
                        let t = k * 3
                        (r1, i1) = (r1 * twr![t] - i1 * twi![t], r1 * twi![t] + i1 * twr![t])
                        (r2, i2) = (r2 * twr![t + 1] - i2 * twi![t + 1], r2 * twi![t + 1] + i2 * twr![t + 1])
                        (r3, i3) = (r3 * twr![t + 2] - i3 * twi![t + 2], r3 * twi![t + 2] + i3 * twr![t + 2])
                    }
                    let ar = r0 + r2, ai = i0 + i2, br = r0 - r2, bi = i0 - i2
                    let cr = r1 + r3, ci = i1 + i3, dr = r1 - r3, di = i1 - i3
                    yr[o] = ar + cr; yi[o] = ai + ci
                    yr[o + span] = br + di; yi[o + span] = bi - dr  // b − i·d
                    yr[o + 2 * span] = ar - cr; yi[o + 2 * span] = ai - ci
                    yr[o + 3 * span] = br - di; yi[o + 3 * span] = bi + dr  // b + i·d
                }
            }
        case 5:
            let c1 = Float(cos(2 * Double.pi / 5)), c2 = Float(cos(4 * Double.pi / 5))
            let s1 = Float(sin(2 * Double.pi / 5)), s2 = Float(sin(4 * Double.pi / 5))
            for b in 0..<blocks {
                for k in 0..<span {
                    let j = b * span + k, o = b * span * 5 + k
                    var vr = (xr[j], xr[j + stride], xr[j + 2 * stride], xr[j + 3 * stride], xr[j + 4 * stride])
                    var vi = (xi[j], xi[j + stride], xi[j + 2 * stride], xi[j + 3 * stride], xi[j + 4 * stride])
                    if k > 0 {
                        let t = k * 4
                        (vr.1, vi.1) = (vr.1 * twr![t] - vi.1 * twi![t], vr.1 * twi![t] + vi.1 * twr![t])
                        (vr.2, vi.2) = (vr.2 * twr![t + 1] - vi.2 * twi![t + 1], vr.2 * twi![t + 1] + vi.2 * twr![t + 1])
                        (vr.3, vi.3) = (vr.3 * twr![t + 2] - vi.3 * twi![t + 2], vr.3 * twi![t + 2] + vi.3 * twr![t + 2])
                        (vr.4, vi.4) = (vr.4 * twr![t + 3] - vi.4 * twi![t + 3], vr.4 * twi![t + 3] + vi.4 * twr![t + 3])
                    }
                    let s14r = vr.1 + vr.4, s14i = vi.1 + vi.4, d14r = vr.1 - vr.4, d14i = vi.1 - vi.4
                    let s23r = vr.2 + vr.3, s23i = vi.2 + vi.3, d23r = vr.2 - vr.3, d23i = vi.2 - vi.3
                    yr[o] = vr.0 + s14r + s23r; yi[o] = vi.0 + s14i + s23i
                    let ar = vr.0 + c1 * s14r + c2 * s23r, ai = vi.0 + c1 * s14i + c2 * s23i
                    let br = vr.0 + c2 * s14r + c1 * s23r, bi = vi.0 + c2 * s14i + c1 * s23i
                    // X1 = a − i(s1·d14 + s2·d23), X4 = a + i(…); X2 = b − i(s2·d14 − s1·d23), X3 = b + i(…)
                    let er = s1 * d14r + s2 * d23r, ei = s1 * d14i + s2 * d23i
                    let fr = s2 * d14r - s1 * d23r, fi = s2 * d14i - s1 * d23i
                    yr[o + span] = ar + ei; yi[o + span] = ai - er
                    yr[o + 4 * span] = ar - ei; yi[o + 4 * span] = ai + er
                    yr[o + 2 * span] = br + fi; yi[o + 2 * span] = bi - fr
                    yr[o + 3 * span] = br - fi; yi[o + 3 * span] = bi + fr
                }
            }
        default:
            let rr = rootsRe[radix]!, ri = rootsIm[radix]!
            var vr = [Float](repeating: 0, count: radix), vi = vr
            for b in 0..<blocks {
                for k in 0..<span {
                    let j = b * span + k, o = b * span * radix + k
                    for m in 0..<radix {
                        var a = xr[j + m * stride], c = xi[j + m * stride]
                        if k > 0 && m > 0 {
                            let t = k * (radix - 1) + m - 1
                            (a, c) = (a * twr![t] - c * twi![t], a * twi![t] + c * twr![t])
                        }
                        vr[m] = a; vi[m] = c
                    }
                    for s in 0..<radix {
                        var sumR: Float = 0, sumI: Float = 0
                        for m in 0..<radix {
                            let w = (m * s) % radix
                            sumR += vr[m] * rr[w] - vi[m] * ri[w]
                            sumI += vr[m] * ri[w] + vi[m] * rr[w]
                        }
                        yr[o + s * span] = sumR; yi[o + s * span] = sumI
                    }
                }
            }
        }
    }
}

/// The DFT of a real sequence of length N: bins 0…N/2 (the one-sided spectrum `torch.stft` returns).
/// Even N runs one complex FFT of N/2 points on the even/odd samples packed as re/im, then untangles
/// them; odd N falls back to a full complex FFT.
public struct RealFFT: Sendable {
    public let size: Int
    public var binCount: Int { size / 2 + 1 }
    let complex: FFT
    /// e^(−2πik/N) for k in 0..<N/2 (even N only).
    let rotationRe: [Float], rotationIm: [Float]

    public init(size: Int) {
        precondition(size > 0, "FFT size must be positive, got \(size)")
        self.size = size
        if size % 2 == 0 {
            complex = FFT(size: size / 2)
            rotationRe = (0..<size / 2).map { Float(cos(-2 * Double.pi * Double($0) / Double(size))) }
            rotationIm = (0..<size / 2).map { Float(sin(-2 * Double.pi * Double($0) / Double(size))) }
        } else {
            complex = FFT(size: size)
            rotationRe = []
            rotationIm = []
        }
    }

    /// Floats of scratch `transform` needs.
    public var scratchCount: Int { 4 * size }

    /// Writes bins 0…N/2 of the DFT of `input` (N floats) to `outRe`/`outIm` (binCount floats each).
    public func transform(_ input: UnsafePointer<Float>, outRe: UnsafeMutablePointer<Float>,
                          outIm: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        if size % 2 == 1 {
            let re = scratch, im = scratch + size
            re.update(from: input, count: size)
            im.update(repeating: 0, count: size)
            complex.transform(re: re, im: im, scratchRe: scratch + 2 * size, scratchIm: scratch + 3 * size)
            outRe.update(from: re, count: binCount)
            outIm.update(from: im, count: binCount)
            return
        }
        let m = size / 2
        let zr = scratch, zi = scratch + m
        for t in 0..<m {
            zr[t] = input[2 * t]
            zi[t] = input[2 * t + 1]
        }
        complex.transform(re: zr, im: zi, scratchRe: scratch + 2 * m, scratchIm: scratch + 3 * m)
        // E[k] = (Z[k] + conj Z[m−k])/2, O[k] = (Z[k] − conj Z[m−k])/(2i), X[k] = E[k] + e^(−2πik/N)·O[k].
        outRe[0] = zr[0] + zi[0]
        outIm[0] = 0
        outRe[m] = zr[0] - zi[0]
        outIm[m] = 0
        rotationRe.withUnsafeBufferPointer { wr in
            rotationIm.withUnsafeBufferPointer { wi in
                for k in 1..<max(1, m) {
                    let ar = zr[k], ai = zi[k], br = zr[m - k], bi = -zi[m - k]  // b = conj Z[m−k]
                    let er = 0.5 * (ar + br), ei = 0.5 * (ai + bi)
                    let dr = ar - br, di = ai - bi
                    let or = 0.5 * di, oi = -0.5 * dr  // (d)/(2i)
                    outRe[k] = er + wr[k] * or - wi[k] * oi
                    outIm[k] = ei + wr[k] * oi + wi[k] * or
                }
            }
        }
    }
}

/// The naive reference: the one-sided DFT of `input` by its definition, in double precision.
public func referenceRealDFT(_ input: [Float]) -> (re: [Double], im: [Double]) {
    let n = input.count
    var re = [Double](repeating: 0, count: n / 2 + 1), im = re
    for k in 0...(n / 2) {
        var sr = 0.0, si = 0.0
        for t in 0..<n {
            let angle = -2 * Double.pi * Double((k * t) % n) / Double(n)
            sr += Double(input[t]) * cos(angle)
            si += Double(input[t]) * sin(angle)
        }
        re[k] = sr
        im[k] = si
    }
    return (re, im)
}
