import Foundation
import LoomTensor

/// transformers' `CLIPImageProcessor` on the PIL path (the "slow" processor LLaVA uses; since
/// transformers 5 it is `CLIPImageProcessorPil`), reproduced bit for bit:
///
/// 1. (optional) LLaVA's `expand2square` onto `config.padColor`.
/// 2. Resize: shortest edge to N with the long side `int(N * long / short)`, or an exact size, with
///    Pillow's resampling on the 8-bit image (`resized(_:width:height:filter:passOrder:)`).
/// 3. Center crop: offsets `(size - crop) // 2`; where the image is smaller than the crop it is first
///    zero-padded with offsets `ceil((crop - size) / 2)`.
/// 4. Rescale `float32(float64(v) * rescale_factor)`, then normalize `(x - mean) / std` in float32.
/// 5. Channels first: a contiguous [3, H, W] Float32 tensor.
///
/// Steps 4 only ever see 3 x 256 distinct inputs, so they are a precomputed table.
public struct CLIPImageProcessor: Sendable {
    public let config: PreprocessorConfig
    /// Pillow 13's resize pass order by default (the reference environment's); `.horizontalFirst`
    /// reproduces Pillow 12 and earlier. They differ only when the height shrinks by more than twice
    /// as many pixels as the width, e.g. a shortest-edge downscale of an image taller than 2:1.
    public var passOrder = ResamplePassOrder.pillow13
    /// [3 * 256]: the float output for (channel, 8-bit value).
    private let valueTable: [Float]

    public init(config: PreprocessorConfig = PreprocessorConfig()) {
        self.config = config
        var table = [Float](repeating: 0, count: 3 * 256)
        for channel in 0..<3 {
            let mean = Float(config.imageMean[channel]), std = Float(config.imageStd[channel])
            for value in 0..<256 {
                var x = config.doRescale ? Float(Double(value) * config.rescaleFactor) : Float(value)
                if config.doNormalize { x = (x - mean) / std }
                table[channel * 256 + value] = x
            }
        }
        valueTable = table
    }

    /// Reads `preprocessor_config.json` (the file, or a folder holding one).
    public init(preprocessorConfig url: URL) throws {
        var isDirectory: ObjCBool = false
        var file = url
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = url.appendingPathComponent("preprocessor_config.json")
        }
        self.init(config: try PreprocessorConfig(contentsOf: file))
    }

    /// The [3, H, W] pixel values of one image.
    public func process(_ image: RGBImage, padToSquare: Bool = false) -> Tensor {
        let pixels = preparedPixels(image, padToSquare: padToSquare)
        let plane = pixels.width * pixels.height
        let output = Tensor(uninitialized: [3, pixels.height, pixels.width])  // [C, H, W]
        let target = output.pointer
        pixels.bytes.withUnsafeBufferPointer { source in
            valueTable.withUnsafeBufferPointer { table in
                for i in 0..<plane {
                    target[i] = table[Int(source[3 * i])]
                    target[plane + i] = table[256 + Int(source[3 * i + 1])]
                    target[2 * plane + i] = table[512 + Int(source[3 * i + 2])]
                }
            }
        }
        return output
    }

    /// Decodes the file at `path` and processes it; decoding errors name the file.
    public func process(path: String, padToSquare: Bool = false) throws -> Tensor {
        try process(try ImageDecoder.decode(path: path), padToSquare: padToSquare, source: path)
    }

    /// `process(_:padToSquare:)` for an image from a file, refusing geometry that would need more than
    /// the decoder's pixel limit on the way: a thin image within the limit may pad to a far larger square
    /// (found by fuzzing: a 451-byte JPEG of 42304x48 asked for 5.3 GB), and resizing its short side up
    /// to 224 multiplies the long one (a 1x20000 image would become 224x4480000).
    public func process(_ image: RGBImage, padToSquare: Bool, source: String) throws -> Tensor {
        var (height, width) = (image.height, image.width)
        func refuse(_ what: String, _ h: Int, _ w: Int) -> ImageError {
            ImageError(file: source, "\(image.width)x\(image.height) pixels \(what) \(w)x\(h), over the limit of "
                       + "\(ImageDecoder.maxPixels) pixels (Pillow's decompression-bomb limit)")
        }
        if padToSquare {
            let side = max(width, height)
            guard Self.fits(side, side) else { throw refuse("pad to a square of", side, side) }
            (height, width) = (side, side)
        }
        if config.doResize {
            let (h, w) = outputSize(height: height, width: width)
            guard Self.fits(h, w) else { throw refuse("resize to", h, w) }
        }
        return process(image, padToSquare: padToSquare)
    }

    private static func fits(_ height: Int, _ width: Int) -> Bool {
        let (pixels, overflow) = height.multipliedReportingOverflow(by: width)
        return !overflow && pixels <= ImageDecoder.maxPixels
    }

    /// The 8-bit image after padding, resizing and cropping (what steps 4 and 5 turn into floats).
    public func preparedPixels(_ image: RGBImage, padToSquare: Bool = false) -> RGBImage {
        var image = padToSquare ? image.paddedToSquare(background: config.padColor) : image
        if config.doResize {
            let (height, width) = outputSize(height: image.height, width: image.width)
            image = resized(image, width: width, height: height, filter: config.resample, passOrder: passOrder)
        }
        if config.doCenterCrop {
            image = centerCropped(image, height: config.cropHeight, width: config.cropWidth)
        }
        return image
    }

    /// transformers' `get_resize_output_image_size` (height, width) for the configured size.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        switch config.size {
        case .exact(let h, let w):
            return (h, w)
        case .shortestEdge(let target):
            let (short, long) = width <= height ? (width, height) : (height, width)
            // Python's int(target * long / short): true division (correctly rounded), then truncation.
            let newLong = Int(Double(target * long) / Double(short))
            return width <= height ? (newLong, target) : (target, newLong)
        }
    }
}

/// transformers' `center_crop`: a window at `((H - h) // 2, (W - w) // 2)`; where the image is smaller
/// than the window it is first zero-padded with offsets `ceil((h - H) / 2)` (and the same for width).
public func centerCropped(_ image: RGBImage, height: Int, width: Int) -> RGBImage {
    if image.height == height && image.width == width { return image }
    // Python's // floors, also for negative numbers.
    func floorDiv2(_ x: Int) -> Int { x >= 0 ? x / 2 : -((-x + 1) / 2) }
    let paddedHeight = max(height, image.height), paddedWidth = max(width, image.width)
    let padTop = (paddedHeight - image.height + 1) / 2, padLeft = (paddedWidth - image.width + 1) / 2
    // Window origin in padded coordinates (equals the plain crop offset when no padding is needed).
    let top = max(0, floorDiv2(image.height - height) + padTop)
    let left = max(0, floorDiv2(image.width - width) + padLeft)
    var output = [UInt8](repeating: 0, count: height * width * 3)
    image.bytes.withUnsafeBufferPointer { source in
        output.withUnsafeMutableBufferPointer { target in
            for y in 0..<height {
                let sourceY = top + y - padTop
                guard sourceY >= 0 && sourceY < image.height else { continue }
                for x in 0..<width {
                    let sourceX = left + x - padLeft
                    guard sourceX >= 0 && sourceX < image.width else { continue }
                    let from = (sourceY * image.width + sourceX) * 3, to = (y * width + x) * 3
                    target[to] = source[from]; target[to + 1] = source[from + 1]; target[to + 2] = source[from + 2]
                }
            }
        }
    }
    return RGBImage(width: width, height: height, bytes: output)
}
