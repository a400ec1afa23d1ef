import Foundation

/// Decodes PNG and JPEG files to 8-bit RGB with the pixels Pillow's `Image.open(p).convert("RGB")`
/// gives. The format is taken from the file's first bytes, never from its name.
///
/// Damaged, truncated and unsupported files throw an `ImageError` naming the file; they never crash
/// the process (libpng/libjpeg fatal errors are contained, see `ContainedCall`). Safe to call from
/// several threads at once.
public enum ImageDecoder {
    /// Pillow's decompression-bomb limit (`2 * Image.MAX_IMAGE_PIXELS`): larger images are refused.
    public static let maxPixels = 2 * 89_478_485

    public enum Format: String, Sendable {
        case png, jpeg
    }

    /// The format named by the magic bytes at the start of `data`, or nil.
    public static func format(of data: Data) -> Format? {
        data.withUnsafeBytes { format(of: $0) }
    }

    static func format(of bytes: UnsafeRawBufferPointer) -> Format? {
        if bytes.count >= PNGDecoder.signature.count, zip(bytes, PNGDecoder.signature).allSatisfy({ $0 == $1 }) {
            return .png
        }
        if JPEGDecoder.isJPEG(bytes) { return .jpeg }
        return nil
    }

    public static func decode(path: String) throws -> RGBImage {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ImageError(file: path, "cannot read: \(error.localizedDescription)")
        }
        return try decode(data: data, name: path)
    }

    public static func decode(url: URL) throws -> RGBImage {
        try decode(path: url.path)
    }

    /// Decodes an in-memory file; `name` (a path or any label) is what error messages show.
    public static func decode(data: Data, name: String) throws -> RGBImage {
        try data.withUnsafeBytes { bytes in
            switch format(of: bytes) {
            case .png: return try PNGDecoder.decode(bytes, name: name)
            case .jpeg: return try JPEGDecoder.decode(bytes, name: name)
            case nil:
                let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
                throw ImageError(file: name, bytes.isEmpty ? "empty file, not an image"
                                 : "not a PNG or JPEG file (starts with \(head))")
            }
        }
    }
}
