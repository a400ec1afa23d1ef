import CPNG

/// PNG through libpng, converted to RGB the way Pillow's `Image.open(p).convert("RGB")` does.
///
/// libpng is asked for the samples as stored (only sub-byte samples unpacked to one byte and Adam7
/// passes merged); no gamma, no alpha handling, no 16-to-8 scaling. Pillow's rules are then applied
/// here, per (colour type, bit depth), from its PNG modes and `convert("RGB")`:
///
/// | PNG | Pillow mode | RGB |
/// |---|---|---|
/// | gray 1/2/4/8 | `1` / `L` | value scaled to 0...255 (×255, ×85, ×17, ×1), replicated |
/// | gray 16 | `I;16` | `min(value, 255)`, replicated (Pillow clamps; it does not take the high byte) |
/// | RGB 8/16, RGBA 8/16 | `RGB` / `RGBA` | high byte of each channel; alpha dropped, nothing composited |
/// | gray+alpha 8/16 | `LA` / `RGBA` | high byte of gray, replicated; alpha dropped |
/// | palette 1/2/4/8 | `P` | palette entry; an index past the PLTE is black; tRNS ignored |
///
/// Ancillary chunks (gAMA, sRGB, iCCP, tRNS, ...) never change pixels, as in Pillow. Chunks after the
/// image data are not read (Pillow tolerates damage there too).
enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func decode(_ data: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        let job = UnsafeMutablePointer<PNGJob>.allocate(capacity: 1)
        job.initialize(to: PNGJob(input: data.baseAddress!.assumingMemoryBound(to: UInt8.self), inputCount: data.count))
        defer {
            job.pointee.release()
            job.deinitialize(count: 1)
            job.deallocate()
        }

        // Creation reports failure by returning nil (libpng guards it internally), so it runs here.
        guard let png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, pngError, pngWarning) else {
            throw ImageError(file: name, "libpng could not create a reader")
        }
        job.pointee.png = png
        guard let info = png_create_info_struct(png) else {
            throw ImageError(file: name, "libpng could not create an info struct")
        }
        job.pointee.info = info

        switch ContainedCall.run(pngReadBody, context: UnsafeMutableRawPointer(job)) {
        case .failure(let error):
            throw ImageError(file: name, error.description)
        case .success(false):
            let reason = job.pointee.message.isEmpty ? "libpng error" : job.pointee.message.text
            throw ImageError(file: name, "corrupt or unsupported PNG: \(reason)")
        case .success(true):
            break
        }
        let header = job.pointee
        if header.isTooLarge {
            throw ImageError(file: name, "\(header.width)x\(header.height) pixels exceeds the limit of "
                             + "\(ImageDecoder.maxPixels) (Pillow's decompression-bomb limit)")
        }
        var palette = [UInt8](repeating: 0, count: 256 * 3)  // missing entries stay black, as in Pillow
        if header.colorType == PNG_COLOR_TYPE_PALETTE {
            var entries: png_colorp?
            var count: Int32 = 0
            if png_get_PLTE(png, info, &entries, &count) != 0, let entries {
                for i in 0..<min(Int(count), 256) {
                    palette[3 * i] = entries[i].red
                    palette[3 * i + 1] = entries[i].green
                    palette[3 * i + 2] = entries[i].blue
                }
            }
        }
        return try convertToRGB(header, palette: palette, name: name)
    }

    /// Applies Pillow's mode and `convert("RGB")` rules (table above) to the rows libpng produced.
    private static func convertToRGB(_ job: PNGJob, palette: [UInt8], name: String) throws -> RGBImage {
        let width = job.width, height = job.height, depth = job.bitDepth
        guard let pixels = job.pixels else { throw ImageError(file: name, "libpng produced no pixels") }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        // Sample size in bytes after unpacking, and the channel count, per colour type.
        let channels: Int
        switch job.colorType {
        case PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_PALETTE: channels = 1
        case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2
        case PNG_COLOR_TYPE_RGB: channels = 3
        case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4
        default: throw ImageError(file: name, "unsupported PNG colour type \(job.colorType)")
        }
        let sampleBytes = depth == 16 ? 2 : 1
        let expectedRowBytes = width * channels * sampleBytes
        guard job.rowBytes >= expectedRowBytes else {
            throw ImageError(file: name, "libpng rows of \(job.rowBytes) bytes, expected \(expectedRowBytes)")
        }
        rgb.withUnsafeMutableBufferPointer { outBuffer in
            palette.withUnsafeBufferPointer { pal in
                let out = outBuffer.baseAddress!
                for y in 0..<height {
                    let row = pixels + y * job.rowBytes
                    let target = out + y * width * 3
                    switch (job.colorType, depth) {
                    case (PNG_COLOR_TYPE_GRAY, 16):
                        for x in 0..<width {
                            let value = row[2 * x] != 0 ? 255 : row[2 * x + 1]
                            target[3 * x] = value; target[3 * x + 1] = value; target[3 * x + 2] = value
                        }
                    case (PNG_COLOR_TYPE_GRAY, _):
                        let scale: UInt8 = depth == 1 ? 255 : depth == 2 ? 85 : depth == 4 ? 17 : 1
                        for x in 0..<width {
                            let value = row[x] &* scale
                            target[3 * x] = value; target[3 * x + 1] = value; target[3 * x + 2] = value
                        }
                    case (PNG_COLOR_TYPE_PALETTE, _):
                        for x in 0..<width {
                            let entry = Int(row[x]) * 3
                            target[3 * x] = pal[entry]; target[3 * x + 1] = pal[entry + 1]
                            target[3 * x + 2] = pal[entry + 2]
                        }
                    case (PNG_COLOR_TYPE_GRAY_ALPHA, _):
                        let stride = 2 * sampleBytes
                        for x in 0..<width {
                            let value = row[stride * x]
                            target[3 * x] = value; target[3 * x + 1] = value; target[3 * x + 2] = value
                        }
                    default:  // RGB, RGBA; 8- or 16-bit (big-endian: the first byte is the high one)
                        let stride = channels * sampleBytes
                        for x in 0..<width {
                            let source = row + stride * x
                            target[3 * x] = source[0]
                            target[3 * x + 1] = source[sampleBytes]
                            target[3 * x + 2] = source[2 * sampleBytes]
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, bytes: rgb)
    }
}

/// Everything the contained libpng calls touch: trivial values and raw pointers only (see
/// `ContainedCall`). Buffers are allocated by the decoding thread and freed by `release()`.
struct PNGJob {
    var png: OpaquePointer?
    var info: OpaquePointer?
    let input: UnsafePointer<UInt8>
    let inputCount: Int
    var inputOffset = 0
    var message = MessageBuffer.allocate()

    var width = 0
    var height = 0
    var bitDepth = 0
    var colorType: Int32 = 0
    var isTooLarge = false
    var rowBytes = 0
    var pixels: UnsafeMutablePointer<UInt8>?
    var rows: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?

    init(input: UnsafePointer<UInt8>, inputCount: Int) {
        self.input = input
        self.inputCount = inputCount
    }

    mutating func release() {
        if png != nil {
            var png = self.png, info = self.info
            if info != nil {
                png_destroy_read_struct(&png, &info, nil)
            } else {
                png_destroy_read_struct(&png, nil, nil)
            }
            self.png = nil
            self.info = nil
        }
        pixels?.deallocate()
        pixels = nil
        rows?.deallocate()
        rows = nil
        message.deallocate()
    }
}

/// Runs on the contained thread: header, transforms, all rows.
private let pngReadBody: ContainedCall.Body = { raw in
    let job = raw!.assumingMemoryBound(to: PNGJob.self)
    let png = job.pointee.png, info = job.pointee.info
    png_set_read_fn(png, raw, pngRead)
    // Pillow rejects a damaged chunk before the image data; libpng only warns for ancillary chunks.
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT)
    png_read_info(png, info)

    let width = Int(png_get_image_width(png, info)), height = Int(png_get_image_height(png, info))
    job.pointee.width = width
    job.pointee.height = height
    job.pointee.bitDepth = Int(png_get_bit_depth(png, info))
    job.pointee.colorType = Int32(png_get_color_type(png, info))
    if width * height > ImageDecoder.maxPixels {
        job.pointee.isTooLarge = true
        return raw
    }
    if job.pointee.bitDepth < 8 { png_set_packing(png) }  // one byte per sample, values unscaled
    _ = png_set_interlace_handling(png)
    png_read_update_info(png, info)

    let rowBytes = Int(png_get_rowbytes(png, info))
    job.pointee.rowBytes = rowBytes
    let pixels = UnsafeMutablePointer<UInt8>.allocate(capacity: max(rowBytes * height, 1))
    job.pointee.pixels = pixels
    pixels.initialize(repeating: 0, count: max(rowBytes * height, 1))
    let rows = UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>.allocate(capacity: height)
    job.pointee.rows = rows
    for y in 0..<height { rows[y] = pixels + y * rowBytes }
    png_read_image(png, rows)
    return raw
}

/// libpng's read callback: copies from the in-memory file; running out is a fatal "truncated" error.
private let pngRead: png_rw_ptr = { png, target, count in
    let job = png_get_io_ptr(png)!.assumingMemoryBound(to: PNGJob.self)
    let available = job.pointee.inputCount - job.pointee.inputOffset
    guard count <= available, let target else {
        job.pointee.message.record("file is truncated")
        ContainedCall.abandon()
    }
    target.update(from: job.pointee.input + job.pointee.inputOffset, count: count)
    job.pointee.inputOffset += count
}

private let pngError: png_error_ptr = { png, message in
    let job = png_get_error_ptr(png)!.assumingMemoryBound(to: PNGJob.self)
    job.pointee.message.record(message)
    ContainedCall.abandon()
}

private let pngWarning: png_error_ptr = { _, _ in }
