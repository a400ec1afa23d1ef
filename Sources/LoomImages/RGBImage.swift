/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (what Pillow's
/// `Image.open(p).convert("RGB")` gives, and what the CLIP processor consumes).
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `height * width * 3` bytes.
    public let bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(width > 0 && height > 0, "image size \(width)x\(height) must be positive")
        precondition(bytes.count == width * height * 3,
                     "\(bytes.count) bytes for a \(width)x\(height) RGB image (needs \(width * height * 3))")
        self.width = width
        self.height = height
        self.bytes = bytes
    }

    /// An image of one colour.
    public init(width: Int, height: Int, filledWith color: (UInt8, UInt8, UInt8)) {
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        bytes.withUnsafeMutableBufferPointer { target in
            for i in stride(from: 0, to: target.count, by: 3) {
                target[i] = color.0; target[i + 1] = color.1; target[i + 2] = color.2
            }
        }
        self.init(width: width, height: height, bytes: bytes)
    }

    /// The pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (bytes[i], bytes[i + 1], bytes[i + 2])
    }

    /// LLaVA's `expand2square`: the image pasted onto a square canvas of `background`, centred along the
    /// short side with the offset rounded down (`(long - short) // 2`). A square image is returned as is.
    public func paddedToSquare(background: (UInt8, UInt8, UInt8)) -> RGBImage {
        if width == height { return self }
        let side = max(width, height)
        let left = (side - width) / 2, top = (side - height) / 2
        var canvas = RGBImage(width: side, height: side, filledWith: background).bytes
        let rowBytes = width * 3
        bytes.withUnsafeBufferPointer { source in
            canvas.withUnsafeMutableBufferPointer { target in
                for y in 0..<height {
                    let from = source.baseAddress! + y * rowBytes
                    let to = target.baseAddress! + ((top + y) * side + left) * 3
                    to.update(from: from, count: rowBytes)
                }
            }
        }
        return RGBImage(width: side, height: side, bytes: canvas)
    }
}
