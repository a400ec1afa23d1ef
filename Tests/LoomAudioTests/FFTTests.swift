import Foundation
import XCTest
import LoomTensor
@testable import LoomAudio

/// Mixed-radix FFTs against the DFT by definition.
final class FFTTests: XCTestCase {
    func testRealFFTMatchesNaiveDFT() {
        // 400 = Whisper; the others exercise radix 2, 3, 4, 5, generic primes and odd sizes.
        for n in [400, 1, 2, 3, 4, 5, 6, 8, 10, 30, 49, 77, 98, 121, 200, 225, 256, 242, 1000, 1024] {
            var generator = RandomGenerator(seed: UInt64(n))
            let x = generator.normal(count: n)
            let fft = RealFFT(size: n)
            var re = [Float](repeating: 0, count: fft.binCount), im = re
            var scratch = [Float](repeating: 0, count: fft.scratchCount)
            x.withUnsafeBufferPointer { input in
                fft.transform(input.baseAddress!, outRe: &re, outIm: &im, scratch: &scratch)
            }
            let reference = referenceRealDFT(x)
            let scale = sqrt(Double(n))  // rms size of a bin for unit-variance input
            var worst = 0.0
            for k in 0..<fft.binCount {
                worst = max(worst, abs(Double(re[k]) - reference.re[k]) / scale, abs(Double(im[k]) - reference.im[k]) / scale)
            }
            XCTAssertLessThan(worst, 2e-6, "n = \(n): worst bin error relative to √n is \(worst)")
        }
    }

    func testComplexFFTMatchesNaiveDFT() {
        for n in [1, 2, 12, 20, 35, 100, 200, 343, 360] {
            var generator = RandomGenerator(seed: UInt64(1000 + n))
            let xr = generator.normal(count: n), xi = generator.normal(count: n)
            var re = xr, im = xi
            var sr = [Float](repeating: 0, count: n), si = sr
            FFT(size: n).transform(re: &re, im: &im, scratchRe: &sr, scratchIm: &si)
            for k in 0..<n {
                var er = 0.0, ei = 0.0
                for t in 0..<n {
                    let angle = -2 * Double.pi * Double((k * t) % n) / Double(n)
                    er += Double(xr[t]) * cos(angle) - Double(xi[t]) * sin(angle)
                    ei += Double(xr[t]) * sin(angle) + Double(xi[t]) * cos(angle)
                }
                XCTAssertEqual(Double(re[k]), er, accuracy: 3e-6 * Double(n), "n = \(n), bin \(k) re")
                XCTAssertEqual(Double(im[k]), ei, accuracy: 3e-6 * Double(n), "n = \(n), bin \(k) im")
            }
        }
    }

    /// 3000 frames of the 400-point real FFT on one thread. Reported, and bounded loosely (debug builds
    /// are slow); the release figure is what the house budget (< 100 ms) refers to.
    func testWhisperFrameThroughput() {
        let fft = RealFFT(size: 400)
        var generator = RandomGenerator(seed: 9)
        let x = generator.normal(count: 400)
        var re = [Float](repeating: 0, count: 201), im = re
        var scratch = [Float](repeating: 0, count: fft.scratchCount)
        let start = DispatchTime.now()
        var check: Float = 0
        for _ in 0..<3000 {
            x.withUnsafeBufferPointer { fft.transform($0.baseAddress!, outRe: &re, outIm: &im, scratch: &scratch) }
            check += re[7]
        }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        print(String(format: "FFT: 3000 frames × 201 bins in %.2f ms on one thread (checksum %g)", ms, check))
        XCTAssertLessThan(ms, 2000)
    }
}
