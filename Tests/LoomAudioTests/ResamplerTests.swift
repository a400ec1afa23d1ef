import Foundation
import XCTest
import LoomTensor
@testable import LoomAudio

/// The polyphase / interpolated resampler against the direct kernel evaluation, and its response.
final class ResamplerTests: XCTestCase {
    private func signal(_ n: Int, seed: UInt64) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        let noise = generator.normal(count: n)
        return (0..<n).map { i in 0.5 * sin(Float(i) * 0.031) + 0.1 * noise[i] }
    }

    func testFastPathsMatchTheDirectKernelOnAwkwardLengths() {
        let rates: [(Int, Int)] = [(44100, 16000), (22050, 16000), (48000, 16000), (8000, 16000), (11025, 16000),
                                   (16000, 44100), (32000, 16000), (16001, 16000), (44056, 16000), (7919, 16000)]
        for (from, to) in rates {
            let resampler = Resampler(from: from, to: to)
            if case .interpolated = resampler.table { XCTAssertGreaterThan(resampler.up, 1000, "\(from)→\(to)") }
            for n in [1, 2, 7, 101, 997, 1501] {
                let x = signal(n, seed: UInt64(n))
                let fast = resampler.resampled(x), naive = resampler.referenceResampled(x)
                XCTAssertEqual(fast.count, (n * to + from - 1) / from, "\(from)→\(to), n=\(n): ceil(n·out/in)")
                XCTAssertEqual(fast.count, naive.count)
                let diff = Differences(fast, naive)
                XCTAssertLessThanOrEqual(diff.max, 2e-5, "\(from)→\(to), n=\(n): \(diff)")
            }
        }
    }

    func testSameRateIsAnExactPassthrough() {
        let x = signal(1234, seed: 3)
        XCTAssertEqual(Resampler.resample(x, from: 16000, to: 16000), x)
        XCTAssertEqual(Resampler.resample([], from: 44100, to: 16000), [])
    }

    func testPassbandIsFlatAndStopbandIsRejected() {
        for (from, to) in [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000)] {
            let lowerNyquist = Double(min(from, to)) / 2
            let n = from / 2
            func amplitude(_ frequency: Double) -> Double {
                let x = (0..<n).map { Float(sin(2 * Double.pi * frequency * Double($0) / Double(from))) }
                let y = Resampler.resample(x, from: from, to: to)
                // Project the middle half onto the tone at the output rate (edges carry the filter's ramp).
                let lo = y.count / 4, hi = 3 * y.count / 4
                var re = 0.0, im = 0.0, energy = 0.0
                for j in lo..<hi {
                    let phase = 2 * Double.pi * frequency * Double(j) / Double(to)
                    re += Double(y[j]) * cos(phase)
                    im += Double(y[j]) * sin(phase)
                    energy += Double(y[j]) * Double(y[j])
                }
                let count = Double(hi - lo)
                return frequency < lowerNyquist ? 2 * (re * re + im * im).squareRoot() / count : (2 * energy / count).squareRoot()
            }
            XCTAssertEqual(amplitude(0.06 * lowerNyquist), 1, accuracy: 1e-4, "\(from)→\(to) low tone")
            XCTAssertEqual(amplitude(0.85 * lowerNyquist), 1, accuracy: 3e-3, "\(from)→\(to) upper passband")
            if from > to {
                XCTAssertLessThan(amplitude(1.1 * lowerNyquist), 1e-5, "\(from)→\(to) aliasing tone")
            }
        }
    }

    func testTimeAlignmentOfAnImpulse() {
        var x = [Float](repeating: 0, count: 44100)
        x[4410] = 1  // 0.1 s
        let y = Resampler.resample(x, from: 44100, to: 16000)
        XCTAssertEqual(y.indices.max { y[$0] < y[$1] }, 1600)
        XCTAssertEqual(Double(y.reduce(0, +)) * 44100 / 16000, 1, accuracy: 1e-4)  // unit DC gain
    }
}
