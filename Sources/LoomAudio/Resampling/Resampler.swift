import Foundation
import LoomTensor

/// Band-limited sample-rate conversion by a Kaiser-windowed sinc (`SincKernel`).
///
/// Output sample j sits at input time τ = j·in/out and is Σᵢ x[i]·scale·k(scale·(i − τ)) over the input,
/// which is zero outside [0, n): no delay, the first output is aligned with the first input (as soxr's
/// linear-phase output, which librosa uses). The output has ceil(n·out/in) samples, librosa's `fix_length`.
///
/// Rational ratios out/in = L/M with a small L use an exact polyphase table (L phases); others (prime-ish
/// rates) interpolate linearly in a table oversampled 512× per lower-rate sample (error < 1e-5).
/// `referenceResampled` evaluates the kernel directly per output sample and is the test oracle.
public struct Resampler: Sendable {
    public let inputRate: Int
    public let outputRate: Int
    public let kernel: SincKernel
    /// out/in reduced: L/M.
    let up: Int, down: Int
    /// min(1, out/in): the kernel works in samples of the lower rate.
    let scale: Double
    let table: Table

    enum Table: Sendable {
        /// taps[p·count + (k − first)] weighs x[q + k] for outputs at τ = q + p/L.
        case polyphase(taps: [Float], first: Int, count: Int)
        /// values[m] = kernel at u = m/oversampling − halfWidth (scaled units), linearly interpolated.
        case interpolated(values: [Float], oversampling: Int)
    }

    /// Polyphase tables above this many floats switch to the interpolated table.
    static let maxPolyphaseTaps = 1 << 21
    static let oversampling = 512

    public init(from inputRate: Int, to outputRate: Int, kernel: SincKernel = .soxrHQLike) {
        precondition(inputRate > 0 && outputRate > 0, "sample rates must be positive: \(inputRate) → \(outputRate)")
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.kernel = kernel
        let g = gcd(inputRate, outputRate)
        up = outputRate / g
        down = inputRate / g
        scale = min(1, Double(outputRate) / Double(inputRate))
        let reach = kernel.halfWidth / scale  // input samples each side
        let first = Int((-reach).rounded(.up))
        let last = Int((reach + Double(up - 1) / Double(up)).rounded(.down))
        let count = last - first + 1
        if up * count <= Resampler.maxPolyphaseTaps {
            var taps = [Float](repeating: 0, count: up * count)
            for p in 0..<up {
                let frac = Double(p) / Double(up)
                for k in first...last {
                    taps[p * count + k - first] = Float(scale * kernel.value(atScaled: scale * (Double(k) - frac)))
                }
            }
            table = .polyphase(taps: taps, first: first, count: count)
        } else {
            let n = Int((2 * kernel.halfWidth).rounded(.up)) * Resampler.oversampling + 2
            var values = [Float](repeating: 0, count: n)
            for m in 0..<n {
                let u = Double(m) / Double(Resampler.oversampling) - kernel.halfWidth
                values[m] = Float(scale * kernel.value(atScaled: u))
            }
            table = .interpolated(values: values, oversampling: Resampler.oversampling)
        }
    }

    /// `samples` at `outputRate`; the same array when the rates are equal.
    public static func resample(_ samples: [Float], from inputRate: Int, to outputRate: Int) -> [Float] {
        if inputRate == outputRate { return samples }
        return Resampler(from: inputRate, to: outputRate).resampled(samples)
    }

    /// ceil(n·out/in), the length librosa's `fix_length` gives.
    public func outputCount(forInputCount n: Int) -> Int {
        (n * up + down - 1) / down
    }

    public func resampled(_ samples: [Float]) -> [Float] {
        if inputRate == outputRate { return samples }
        let n = samples.count, count = outputCount(forInputCount: n)
        var output = [Float](repeating: 0, count: count)
        guard count > 0 else { return output }
        samples.withUnsafeBufferPointer { xb in
            output.withUnsafeMutableBufferPointer { yb in
                let x = xb.baseAddress!, y = yb.baseAddress!
                Threads.parallelFor(count, grain: 2048) { range in
                    switch table {
                    case let .polyphase(taps, first, tapCount):
                        taps.withUnsafeBufferPointer { t in
                            polyphase(x, n, y, range, t.baseAddress!, first, tapCount)
                        }
                    case let .interpolated(values, oversampling):
                        values.withUnsafeBufferPointer { v in
                            interpolated(x, n, y, range, v.baseAddress!, v.count, oversampling)
                        }
                    }
                }
            }
        }
        return output
    }

    private func polyphase(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>,
                           _ taps: UnsafePointer<Float>, _ first: Int, _ tapCount: Int) {
        for j in range {
            let position = j * down
            let q = position / up, p = position - q * up
            let lo = max(0, q + first), hi = min(n, q + first + tapCount)  // input indices [lo, hi)
            guard lo < hi else { y[j] = 0; continue }
            y[j] = dot(x + lo, taps + p * tapCount + (lo - q - first), hi - lo)
        }
    }

    private func interpolated(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>,
                              _ values: UnsafePointer<Float>, _ valueCount: Int, _ oversampling: Int) {
        let reach = kernel.halfWidth / scale
        let step = scale * Double(oversampling)  // table positions per input sample
        for j in range {
            let position = j * down
            let q = position / up
            let tau = Double(q) + Double(position - q * up) / Double(up)
            let lo = max(0, Int((tau - reach).rounded(.up))), hi = min(n - 1, Int((tau + reach).rounded(.down)))
            var sum: Float = 0
            if lo <= hi {
                for i in lo...hi {
                    let t = (Double(i) - tau) * step + kernel.halfWidth * Double(oversampling)
                    let m = Int(t)
                    guard m >= 0 && m + 1 < valueCount else { continue }
                    let f = Float(t - Double(m))
                    sum += x[i] * (values[m] + f * (values[m + 1] - values[m]))
                }
            }
            y[j] = sum
        }
    }

    /// The naive reference: the kernel evaluated directly (double precision) for every output sample.
    public func referenceResampled(_ samples: [Float]) -> [Float] {
        if inputRate == outputRate { return samples }
        let n = samples.count, reach = kernel.halfWidth / scale
        return (0..<outputCount(forInputCount: n)).map { j in
            let tau = Double(j) * Double(inputRate) / Double(outputRate)
            let lo = max(0, Int((tau - reach).rounded(.up))), hi = min(n - 1, Int((tau + reach).rounded(.down)))
            guard lo <= hi else { return 0 }
            var sum = 0.0
            for i in lo...hi { sum += Double(samples[i]) * scale * kernel.value(atScaled: scale * (Double(i) - tau)) }
            return Float(sum)
        }
    }
}

/// Σ a[i]·b[i] over `count` floats: four independent eight-lane accumulators hide the add latency.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    typealias V = SIMD8<Float>
    var acc0 = V(repeating: 0), acc1 = V(repeating: 0), acc2 = V(repeating: 0), acc3 = V(repeating: 0)
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> V { p.loadUnaligned(fromByteOffset: i * 4, as: V.self) }
    while i + 32 <= count {
        acc0 += load(ra, i) * load(rb, i)
        acc1 += load(ra, i + 8) * load(rb, i + 8)
        acc2 += load(ra, i + 16) * load(rb, i + 16)
        acc3 += load(ra, i + 24) * load(rb, i + 24)
        i += 32
    }
    while i + 8 <= count {
        acc0 += load(ra, i) * load(rb, i)
        i += 8
    }
    var sum = ((acc0 + acc1) + (acc2 + acc3)).sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

func gcd(_ a: Int, _ b: Int) -> Int {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}
