import Foundation

/// Pillow's resampling filters, numbered as `PIL.Image.Resampling` (and as the `resample` key of a
/// preprocessor_config.json). NEAREST (0) takes a different path in Pillow and is not offered.
public enum ResampleFilter: Int, Sendable, CaseIterable {
    case lanczos = 1
    case bilinear = 2
    case bicubic = 3
    case box = 4
    case hamming = 5

    /// Half-width of the kernel at scale 1.
    var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    /// The kernel, as Pillow defines it (bicubic with a = -0.5; Lanczos with three lobes).
    func weight(_ x: Double) -> Double {
        switch self {
        case .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let x = abs(x)
            return x < 1 ? 1 - x : 0
        case .hamming:
            let x = abs(x)
            if x == 0 { return 1 }
            if x >= 1 { return 0 }
            let px = x * Double.pi
            // Pillow writes these constants as C floats (0.54f, 0.46f), promoted to double.
            return sin(px) / px * (Double(Float(0.54)) + Double(Float(0.46)) * cos(px))
        case .bicubic:
            let a = -0.5
            let x = abs(x)
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0
        }
    }

    private func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let px = x * Double.pi
        return sin(px) / px
    }
}

/// Which of Pillow's two passes runs first when both width and height change.
public enum ResamplePassOrder: Sendable {
    /// Pillow 13 and later (python-pillow/Pillow#9549): vertical first when the height shrinks by more
    /// than twice as many pixels as the width does (`newH < H && H - newH > 2 * (W - newW)`),
    /// horizontal first otherwise. The rule was measured against Pillow 13.0.0 (no mismatch over ~3,400
    /// size pairs where the order changes the result), as the merged C change was not at hand.
    case pillow13
    /// Pillow 12 and earlier (the Pillow of the original LLaVA environments): always horizontal first.
    case horizontalFirst

    func isVerticalFirst(from image: (width: Int, height: Int), to size: (width: Int, height: Int)) -> Bool {
        switch self {
        case .horizontalFirst: return false
        case .pillow13: return size.height < image.height && image.height - size.height > 2 * (image.width - size.width)
        }
    }
}

/// `PIL.Image.resize((width, height), filter)` of an 8-bit RGB image, bit for bit (no `reducing_gap`).
///
/// Pillow's convolution resampler: separable, one pass per axis whose size changes, each writing an
/// 8-bit image (so the order matters, see `ResamplePassOrder`). Per output position the kernel is
/// stretched by the downscale factor, evaluated in double precision, normalised to sum 1, and turned
/// into 22-bit fixed point (rounded half away from zero); each output is
/// `(2^21 + Σ pixel·coef) >> 22` clamped to 0...255. Horizontal-first only computes the rows the
/// vertical pass will read, which changes no value.
public func resized(_ image: RGBImage, width: Int, height: Int, filter: ResampleFilter,
                    passOrder: ResamplePassOrder = .pillow13) -> RGBImage {
    precondition(width > 0 && height > 0, "resize to \(width)x\(height)")
    if width == image.width && height == image.height { return image }
    let horizontal = ResampleCoefficients(inputSize: image.width, outputSize: width, filter: filter)
    var vertical = ResampleCoefficients(inputSize: image.height, outputSize: height, filter: filter)

    if passOrder.isVerticalFirst(from: (image.width, image.height), to: (width, height)) {
        // (Implies the height changes; the width may not.)
        let columns = resampleColumns(image.bytes, width: image.width, outputHeight: height, with: vertical)
        if width == image.width { return RGBImage(width: width, height: height, bytes: columns) }
        let output = resampleRows(columns, width: image.width, rows: 0..<height, with: horizontal)
        return RGBImage(width: width, height: height, bytes: output)
    }
    var source = image.bytes
    var sourceWidth = image.width
    if width != image.width {
        // Only the input rows some vertical tap reads.
        let firstRow = vertical.first[0]
        let lastRow = vertical.first[height - 1] + vertical.count[height - 1]
        for i in 0..<height { vertical.first[i] -= firstRow }
        source = resampleRows(image.bytes, width: image.width, rows: firstRow..<lastRow, with: horizontal)
        sourceWidth = width
    }
    if height != image.height {
        source = resampleColumns(source, width: sourceWidth, outputHeight: height, with: vertical)
    }
    return RGBImage(width: width, height: height, bytes: source)
}

/// Fixed-point kernel taps for one axis: output `i` reads `count[i]` inputs from `first[i]` with
/// `weights[i * stride ..< i * stride + count[i]]`.
struct ResampleCoefficients {
    static let precisionBits = 22

    var first: [Int]
    var count: [Int]
    var weights: [Int32]
    let stride: Int

    init(inputSize: Int, outputSize: Int, filter: ResampleFilter) {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        stride = Int(support.rounded(.up)) * 2 + 1
        first = [Int](repeating: 0, count: outputSize)
        count = [Int](repeating: 0, count: outputSize)
        weights = [Int32](repeating: 0, count: outputSize * stride)
        let inverseScale = 1 / filterScale
        var taps = [Double](repeating: 0, count: stride)
        for i in 0..<outputSize {
            let center = (Double(i) + 0.5) * scale
            // C's (int) cast truncates toward zero; negative starts are clamped to 0 right after.
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inputSize)
            let n = hi - lo
            var total = 0.0
            for k in 0..<n {
                let w = filter.weight((Double(k + lo) - center + 0.5) * inverseScale)
                taps[k] = w
                total += w
            }
            let one = Double(1 << ResampleCoefficients.precisionBits)
            for k in 0..<n {
                let w = total != 0 ? taps[k] / total : taps[k]
                weights[i * stride + k] = Int32(w < 0 ? (w * one - 0.5) : (w * one + 0.5))
            }
            first[i] = lo
            count[i] = n
        }
    }
}

@inline(__always)
private func clip8(_ accumulator: Int32) -> UInt8 {
    let shifted = accumulator >> Int32(ResampleCoefficients.precisionBits)  // arithmetic: floors negatives
    return shifted < 0 ? 0 : shifted > 255 ? 255 : UInt8(shifted)
}

private let roundingBias = Int32(1) << Int32(ResampleCoefficients.precisionBits - 1)

/// Horizontal pass over the input rows in `rows`: [rows.count, outputWidth, 3].
private func resampleRows(_ input: [UInt8], width: Int, rows: Range<Int>,
                          with c: ResampleCoefficients) -> [UInt8] {
    let outputWidth = c.first.count
    var output = [UInt8](repeating: 0, count: rows.count * outputWidth * 3)
    input.withUnsafeBufferPointer { inBuffer in
    output.withUnsafeMutableBufferPointer { outBuffer in
    c.weights.withUnsafeBufferPointer { weights in
    c.first.withUnsafeBufferPointer { first in
    c.count.withUnsafeBufferPointer { count in
        for (row, y) in rows.enumerated() {
            let line = inBuffer.baseAddress! + y * width * 3
            let target = outBuffer.baseAddress! + row * outputWidth * 3
            for x in 0..<outputWidth {
                let taps = weights.baseAddress! + x * c.stride
                let start = line + first[x] * 3
                var r = roundingBias, g = roundingBias, b = roundingBias
                var pixel = start, tap = taps
                for _ in 0..<count[x] {
                    let w = tap.pointee
                    r &+= Int32(pixel[0]) &* w
                    g &+= Int32(pixel[1]) &* w
                    b &+= Int32(pixel[2]) &* w
                    pixel += 3
                    tap += 1
                }
                target[3 * x] = clip8(r)
                target[3 * x + 1] = clip8(g)
                target[3 * x + 2] = clip8(b)
            }
        }
    }
    }
    }
    }
    }
    return output
}

/// Vertical pass: [outputHeight, width, 3] from [inputRows, width, 3]. Accumulates whole rows at a
/// time (the same sums in the same order as per-value loops, so the same results).
private func resampleColumns(_ input: [UInt8], width: Int, outputHeight: Int,
                             with c: ResampleCoefficients) -> [UInt8] {
    let rowBytes = width * 3
    var output = [UInt8](repeating: 0, count: outputHeight * rowBytes)
    var sums = [Int32](repeating: 0, count: rowBytes)
    input.withUnsafeBufferPointer { inBuffer in
    output.withUnsafeMutableBufferPointer { outBuffer in
    sums.withUnsafeMutableBufferPointer { sums in
    c.weights.withUnsafeBufferPointer { weights in
        let sum = sums.baseAddress!
        for y in 0..<outputHeight {
            let taps = weights.baseAddress! + y * c.stride
            let top = inBuffer.baseAddress! + c.first[y] * rowBytes
            let target = outBuffer.baseAddress! + y * rowBytes
            sum.update(repeating: roundingBias, count: rowBytes)
            for k in 0..<c.count[y] {
                let w = taps[k]
                let line = top + k * rowBytes
                for i in 0..<rowBytes { sum[i] &+= Int32(line[i]) &* w }
            }
            for i in 0..<rowBytes { target[i] = clip8(sum[i]) }
        }
    }
    }
    }
    }
    return output
}
