import Foundation

/// Triangular mel filters on the bins of a one-sided spectrum, as transformers' `mel_filter_bank`
/// (and librosa's `filters.mel`) build them with the Slaney mel scale and Slaney area normalisation.
///
/// Weights are computed in double precision by the same formulas, in the same order, as
/// `mel_filter_bank(num_frequency_bins, num_mel_filters, min_frequency, max_frequency, sampling_rate,
/// norm="slaney", mel_scale="slaney")`, then rounded to float32 (the Whisper extractor's torch path
/// multiplies with `mel_filters.to(torch.float32)`). Each filter keeps only its non-zero span.
public struct MelFilterBank: Sendable {
    public let melCount: Int
    public let binCount: Int
    /// Per filter: the first bin with a non-zero weight, and the weights from there on.
    public let firstBin: [Int]
    public let weights: [[Float]]

    public init(binCount: Int, melCount: Int, minFrequency: Double = 0, maxFrequency: Double, sampleRate: Int) {
        precondition(binCount >= 2 && melCount >= 1, "need ≥ 2 bins and ≥ 1 filter, got \(binCount), \(melCount)")
        self.melCount = melCount
        self.binCount = binCount
        let dense = MelFilterBank.denseWeights(binCount: binCount, melCount: melCount, minFrequency: minFrequency,
                                               maxFrequency: maxFrequency, sampleRate: sampleRate)
        var firstBin: [Int] = [], weights: [[Float]] = []
        for m in 0..<melCount {
            let row = (0..<binCount).map { Float(dense[$0 * melCount + m]) }
            guard let lo = row.firstIndex(where: { $0 != 0 }), let hi = row.lastIndex(where: { $0 != 0 }) else {
                firstBin.append(0)
                weights.append([])
                continue
            }
            firstBin.append(lo)
            weights.append(Array(row[lo...hi]))
        }
        self.firstBin = firstBin
        self.weights = weights
    }

    /// The filters as a dense [binCount, melCount] matrix (HF's layout), row-major, double precision.
    public static func denseWeights(binCount: Int, melCount: Int, minFrequency: Double, maxFrequency: Double,
                                    sampleRate: Int) -> [Double] {
        let melMin = hertzToMel(minFrequency), melMax = hertzToMel(maxFrequency)
        let melPoints = linspace(melMin, melMax, melCount + 2)
        let filterHz = melPoints.map(melToHertz)
        let binHz = linspace(0, Double(sampleRate / 2), binCount)
        var w = [Double](repeating: 0, count: binCount * melCount)
        for k in 0..<binCount {
            for m in 0..<melCount {
                // slopes[k, i] = filter_freqs[i] − fft_freqs[k]; down = −slopes[:, i]/diff[i], up = slopes[:, i+2]/diff[i+1]
                let down = -(filterHz[m] - binHz[k]) / (filterHz[m + 1] - filterHz[m])
                let up = (filterHz[m + 2] - binHz[k]) / (filterHz[m + 2] - filterHz[m + 1])
                w[k * melCount + m] = max(0, min(down, up))
            }
        }
        for m in 0..<melCount {
            let enorm = 2.0 / (filterHz[m + 2] - filterHz[m])
            for k in 0..<binCount { w[k * melCount + m] *= enorm }
        }
        return w
    }

    /// Slaney mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above.
    public static func hertzToMel(_ hz: Double) -> Double {
        let minLogHertz = 1000.0, minLogMel = 15.0, logStep = 27.0 / log(6.4)
        return hz >= minLogHertz ? minLogMel + log(hz / minLogHertz) * logStep : 3.0 * hz / 200.0
    }

    public static func melToHertz(_ mel: Double) -> Double {
        let minLogHertz = 1000.0, minLogMel = 15.0, logStep = log(6.4) / 27.0
        return mel >= minLogMel ? minLogHertz * exp(logStep * (mel - minLogMel)) : 200.0 * mel / 3.0
    }

    /// `np.linspace(start, stop, count)`: start + i·step with step = (stop − start)/(count − 1), last = stop.
    static func linspace(_ start: Double, _ stop: Double, _ count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }
}
