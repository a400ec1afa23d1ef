import CJPEG

/// JPEG through libjpeg(-turbo) with the library's default decoding settings (islow IDCT, fancy
/// upsampling, no scaling), which is what Pillow's decoder uses, converted to RGB as Pillow does:
///
/// | components | Pillow mode | RGB |
/// |---|---|---|
/// | 1 | `L` | gray replicated |
/// | 3 | `RGB` | libjpeg's YCbCr (or RGB) to RGB output |
/// | 4 | `CMYK` (raw mode `CMYK;I`) | libjpeg's CMYK output inverted (Adobe convention, always), then Pillow's `cmyk2rgb` |
///
/// Any other component count is rejected, as Pillow does. A file that ends before the image is
/// complete is an error (Pillow: "image file is truncated"); other corrupt-data warnings are ignored,
/// as libjpeg and Pillow ignore them. EXIF orientation and ICC profiles are not applied (Pillow's
/// `open` + `convert` does not apply them either).
enum JPEGDecoder {
    static func isJPEG(_ data: UnsafeRawBufferPointer) -> Bool {
        data.count >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF
    }

    static func decode(_ data: UnsafeRawBufferPointer, name: String) throws -> RGBImage {
        let job = UnsafeMutablePointer<JPEGJob>.allocate(capacity: 1)
        job.initialize(to: JPEGJob(input: data.baseAddress!.assumingMemoryBound(to: UInt8.self), inputCount: data.count))
        defer {
            job.pointee.release()
            job.deinitialize(count: 1)
            job.deallocate()
        }
        switch ContainedCall.run(jpegReadBody, context: UnsafeMutableRawPointer(job)) {
        case .failure(let error):
            throw ImageError(file: name, error.description)
        case .success(false):
            let reason = job.pointee.message.isEmpty ? "libjpeg error" : job.pointee.message.text
            throw ImageError(file: name, "corrupt or unsupported JPEG: \(reason)")
        case .success(true):
            break
        }
        let result = job.pointee
        if result.isTooLarge {
            throw ImageError(file: name, "\(result.width)x\(result.height) pixels exceeds the limit of "
                             + "\(ImageDecoder.maxPixels) (Pillow's decompression-bomb limit)")
        }
        if result.components != 1 && result.components != 3 && result.components != 4 {
            throw ImageError(file: name, "cannot handle \(result.components)-component JPEG images")
        }
        if result.isTruncated {
            throw ImageError(file: name, "JPEG file is truncated (premature end of data)")
        }
        guard let pixels = result.pixels, result.rowsRead == result.height else {
            throw ImageError(file: name, "libjpeg returned \(result.rowsRead) of \(result.height) rows")
        }
        return convertToRGB(pixels, width: result.width, height: result.height, components: result.components)
    }

    private static func convertToRGB(_ pixels: UnsafeMutablePointer<UInt8>, width: Int, height: Int,
                                     components: Int) -> RGBImage {
        let count = width * height
        if components == 3 {
            return RGBImage(width: width, height: height, bytes: Array(UnsafeBufferPointer(start: pixels, count: count * 3)))
        }
        var rgb = [UInt8](repeating: 0, count: count * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            if components == 1 {
                for i in 0..<count {
                    let v = pixels[i]
                    out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
                }
            } else {
                for i in 0..<count {
                    let source = pixels + 4 * i
                    // "CMYK;I": Pillow stores 255 - sample; then cmyk2rgb: nk - c * nk / 255 (rounded).
                    let k = 255 - Int(source[3])
                    let nk = 255 - k
                    for c in 0..<3 {
                        let ink = 255 - Int(source[c])
                        out[3 * i + c] = UInt8(clamping: nk - mulDiv255(ink, nk))
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, bytes: rgb)
    }

    /// `a * b / 255` rounded, in the integer form Pillow uses (exact for 8-bit operands).
    @inline(__always)
    static func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }
}

/// Everything the contained libjpeg calls touch: trivial values and raw pointers only (see
/// `ContainedCall`). Buffers are allocated by the decoding thread and freed by `release()`.
struct JPEGJob {
    let cinfo: UnsafeMutablePointer<jpeg_decompress_struct>
    let errorManager: UnsafeMutablePointer<jpeg_error_mgr>
    let input: UnsafePointer<UInt8>
    let inputCount: Int
    var message = MessageBuffer.allocate()
    var isCreated = false

    var width = 0
    var height = 0
    var components = 0
    var isTooLarge = false
    var isTruncated = false
    var rowsRead = 0
    var pixels: UnsafeMutablePointer<UInt8>?

    init(input: UnsafePointer<UInt8>, inputCount: Int) {
        self.input = input
        self.inputCount = inputCount
        cinfo = .allocate(capacity: 1)
        cinfo.initialize(to: jpeg_decompress_struct())
        errorManager = .allocate(capacity: 1)
        errorManager.initialize(to: jpeg_error_mgr())
    }

    mutating func release() {
        // Frees every pool libjpeg allocated, also after a fatal error (what a longjmp handler does).
        if isCreated { jpeg_destroy_decompress(cinfo) }
        isCreated = false
        cinfo.deallocate()
        errorManager.deallocate()
        pixels?.deallocate()
        pixels = nil
        message.deallocate()
    }
}

/// Runs on the contained thread: header, colour space, all scanlines, end of image.
private let jpegReadBody: ContainedCall.Body = { raw in
    let job = raw!.assumingMemoryBound(to: JPEGJob.self)
    let cinfo = job.pointee.cinfo
    let errorManager = job.pointee.errorManager
    cinfo.pointee.err = jpeg_std_error(errorManager)
    errorManager.pointee.error_exit = jpegErrorExit
    errorManager.pointee.emit_message = jpegEmitMessage
    errorManager.pointee.output_message = { _ in }
    jpeg_CreateDecompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
    job.pointee.isCreated = true
    cinfo.pointee.client_data = raw
    jpeg_mem_src(cinfo, job.pointee.input, UInt(job.pointee.inputCount))
    _ = jpeg_read_header(cinfo, 1)

    let components = Int(cinfo.pointee.num_components)
    job.pointee.components = components
    job.pointee.width = Int(cinfo.pointee.image_width)
    job.pointee.height = Int(cinfo.pointee.image_height)
    switch components {
    case 1: cinfo.pointee.out_color_space = JCS_GRAYSCALE
    case 3: cinfo.pointee.out_color_space = JCS_RGB
    case 4: cinfo.pointee.out_color_space = JCS_CMYK
    default: return raw  // rejected by the caller, before any decoding
    }
    if job.pointee.width * job.pointee.height > ImageDecoder.maxPixels {
        job.pointee.isTooLarge = true
        return raw
    }
    _ = jpeg_start_decompress(cinfo)

    let width = Int(cinfo.pointee.output_width), height = Int(cinfo.pointee.output_height)
    let outComponents = Int(cinfo.pointee.output_components)
    guard width == job.pointee.width, height == job.pointee.height, outComponents == components else {
        job.pointee.message.record("unexpected output geometry from libjpeg")
        return nil
    }
    let rowBytes = width * components
    let pixels = UnsafeMutablePointer<UInt8>.allocate(capacity: max(rowBytes * height, 1))
    job.pointee.pixels = pixels
    pixels.initialize(repeating: 0, count: max(rowBytes * height, 1))
    var row: UnsafeMutablePointer<UInt8>? = nil
    while Int(cinfo.pointee.output_scanline) < height {
        row = pixels + Int(cinfo.pointee.output_scanline) * rowBytes
        let read = withUnsafeMutablePointer(to: &row) { jpeg_read_scanlines(cinfo, $0, 1) }
        if read == 0 { break }
        job.pointee.rowsRead = Int(cinfo.pointee.output_scanline)
    }
    _ = jpeg_finish_decompress(cinfo)
    return raw
}

private let jpegErrorExit: @convention(c) (j_common_ptr?) -> Void = { common in
    let job = common!.pointee.client_data?.assumingMemoryBound(to: JPEGJob.self)
    if let job, let format = common!.pointee.err.pointee.format_message {
        format(common, job.pointee.message.storage)  // at most JMSG_LENGTH_MAX (200) bytes
    }
    ContainedCall.abandon()
}

/// Warnings (level -1) are ignored except running out of data; trace messages (level >= 0) are dropped.
private let jpegEmitMessage: @convention(c) (j_common_ptr?, Int32) -> Void = { common, level in
    guard level < 0, let common, let job = common.pointee.client_data?.assumingMemoryBound(to: JPEGJob.self) else {
        return
    }
    let errorManager = common.pointee.err!
    let code = Int(errorManager.pointee.msg_code)
    guard let table = errorManager.pointee.jpeg_message_table, code >= 0,
          code <= Int(errorManager.pointee.last_jpeg_message), let text = table[code] else { return }
    // JWRN_JPEG_EOF, matched by its text: jerror.h (with the numeric codes) is not in the CJPEG module.
    if String(cString: text) == "Premature end of JPEG file" { job.pointee.isTruncated = true }
}
