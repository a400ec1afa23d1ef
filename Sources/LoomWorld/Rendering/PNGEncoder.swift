import CPNG
import Foundation
import LoomImages

/// Encodes RGB images as 8-bit PNG with libpng's simplified write API. The simplified API catches
/// libpng's errors itself (no longjmp reaches Swift), writes no time stamp and uses fixed zlib
/// settings, so the same pixels always give the same bytes.
public enum PNGEncoder {
    public static func encode(_ image: RGBImage) throws -> Data {
        // Raw rows plus zlib's and the chunks' overhead: enough for any RGB image in practice; if not,
        // libpng reports the size it needs and the write runs once more.
        var capacity = image.bytes.count + image.height + 1024
        for _ in 0..<2 {
            var output = Data(count: capacity)
            var written = capacity
            let result = output.withUnsafeMutableBytes { target in
                write(image, to: target.baseAddress, bytes: &written)
            }
            switch result {
            case .success:
                output.count = written
                return output
            case .failure where written > capacity:
                capacity = written
            case .failure(let message):
                throw WorldError("cannot encode a \(image.width)x\(image.height) PNG: \(message)")
            }
        }
        throw WorldError("cannot encode a \(image.width)x\(image.height) PNG: libpng kept asking for a larger buffer")
    }

    private static func write(_ image: RGBImage, to memory: UnsafeMutableRawPointer?,
                              bytes: inout Int) -> Result<Void, EncodeFailure> {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        png.flags = UInt32(PNG_IMAGE_FLAG_FAST)
        let ok = image.bytes.withUnsafeBufferPointer { pixels in
            png_image_write_to_memory(&png, memory, &bytes, 0, pixels.baseAddress, Int32(image.width * 3), nil)
        }
        if ok != 0 { return .success(()) }
        let message = withUnsafeBytes(of: png.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        png_image_free(&png)
        return .failure(EncodeFailure(message: message))
    }

    private struct EncodeFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
