import Foundation

/// A Hugging Face `preprocessor_config.json` for `CLIPImageProcessor`. Keys this processor does not
/// use (`feature_extractor_type`, `image_processor_type`, ...) are ignored; a used key with the wrong
/// type or an impossible value throws an error naming the key. Absent keys take transformers'
/// `CLIPImageProcessor` class defaults, documented on each property.
public struct PreprocessorConfig: Equatable, Sendable {
    /// How `do_resize` sizes the image.
    public enum Size: Equatable, Sendable {
        /// `{"shortest_edge": N}` (or a bare int, as CLIP's legacy configs write it): the short side
        /// becomes N, the long side `int(N * long / short)`.
        case shortestEdge(Int)
        /// `{"height": H, "width": W}`: exactly this size.
        case exact(height: Int, width: Int)
    }

    /// Default true.
    public var doResize = true
    /// Default `{"shortest_edge": 224}`.
    public var size = Size.shortestEdge(224)
    /// Default 3 (bicubic).
    public var resample = ResampleFilter.bicubic
    /// Default true.
    public var doCenterCrop = true
    /// `crop_size`: an int (square) or `{"height", "width"}`; default 224 x 224.
    public var cropHeight = 224
    public var cropWidth = 224
    /// Default true.
    public var doRescale = true
    /// Default 1/255 (`0.00392156862745098`).
    public var rescaleFactor = 1.0 / 255.0
    /// Default true.
    public var doNormalize = true
    /// Per-channel R, G, B; a single number applies to all three. Default OPENAI_CLIP_MEAN.
    public var imageMean = [0.48145466, 0.4578275, 0.40821073]
    /// Default OPENAI_CLIP_STD.
    public var imageStd = [0.26862954, 0.26130258, 0.27577711]
    /// Default true. Decoded images are RGB already, so this has no effect here.
    public var doConvertRGB = true

    /// The CLIP defaults (openai/clip-vit-base-patch32 and -large-patch14).
    public init() {}

    /// Reads a preprocessor_config.json; errors name the file and key.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageError(file: url.path, "cannot read: \(error.localizedDescription)")
        }
        try self.init(json: data, source: url.path)
    }

    /// Parses preprocessor_config.json text; `source` names it in errors.
    public init(json data: Data, source: String = "preprocessor_config.json") throws {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ImageError(file: source, "not valid JSON: \(error)")
        }
        guard case .object(let object) = root else {
            throw ImageError(file: source, "expected a JSON object at the top level")
        }
        var reader = Reader(object: object, source: source)
        try self.init(reading: &reader)
    }

    private init(reading r: inout Reader) throws {
        doResize = try r.bool("do_resize") ?? doResize
        if let value = r.present("size") {
            size = try r.size(value)
        }
        if let number = try r.int("resample") {
            guard let filter = ResampleFilter(rawValue: number) else {
                throw r.error("resample", "filter \(number) is not supported (1 lanczos, 2 bilinear, 3 bicubic, "
                              + "4 box, 5 hamming; 0 nearest is not implemented)")
            }
            resample = filter
        }
        doCenterCrop = try r.bool("do_center_crop") ?? doCenterCrop
        if let value = r.present("crop_size") {
            (cropHeight, cropWidth) = try r.cropSize(value)
        }
        doRescale = try r.bool("do_rescale") ?? doRescale
        rescaleFactor = try r.double("rescale_factor") ?? rescaleFactor
        doNormalize = try r.bool("do_normalize") ?? doNormalize
        imageMean = try r.channels("image_mean") ?? imageMean
        imageStd = try r.channels("image_std") ?? imageStd
        doConvertRGB = try r.bool("do_convert_rgb") ?? doConvertRGB
        if doNormalize, let index = imageStd.firstIndex(of: 0) {
            throw r.error("image_std", "channel \(index) is 0 (division by zero)")
        }
    }

    /// LLaVA's `expand2square` background: `tuple(int(x * 255) for x in image_mean)`.
    public var padColor: (UInt8, UInt8, UInt8) {
        func channel(_ x: Double) -> UInt8 { UInt8(clamping: Int(x * 255)) }
        return (channel(imageMean[0]), channel(imageMean[1]), channel(imageMean[2]))
    }
}

/// A JSON value as decoded by `JSONDecoder`, which (unlike JSONSerialization on Linux) keeps booleans
/// and numbers apart.
enum JSONValue: Decodable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
        else if let number = try? container.decode(Double.self) { self = .number(number) }
        else if let string = try? container.decode(String.self) { self = .string(string) }
        else if let array = try? container.decode([JSONValue].self) { self = .array(array) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return "\(number)"
        case .string(let string): return "\"\(string)\""
        case .array: return "a list"
        case .object: return "an object"
        }
    }
}

/// Typed access to the top-level keys, with errors that name the key.
private struct Reader {
    let object: [String: JSONValue]
    let source: String

    func error(_ key: String, _ detail: String) -> ImageError {
        ImageError(file: source, "key '\(key)': \(detail)")
    }

    func present(_ key: String) -> JSONValue? {
        guard let value = object[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = present(key) else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "expected true or false, got \(value)") }
        return flag
    }

    func int(_ key: String) throws -> Int? {
        guard let value = present(key) else { return nil }
        return try integer(value, key: key)
    }

    func double(_ key: String) throws -> Double? {
        guard let value = present(key) else { return nil }
        guard case .number(let number) = value else { throw error(key, "expected a number, got \(value)") }
        return number
    }

    /// A number for all three channels, or a list of three numbers.
    func channels(_ key: String) throws -> [Double]? {
        guard let value = present(key) else { return nil }
        switch value {
        case .number(let number):
            return Array(repeating: number, count: 3)
        case .array(let list):
            guard list.count == 3 else { throw error(key, "expected 3 values (R, G, B), got \(list.count)") }
            return try list.map { item in
                guard case .number(let number) = item else { throw error(key, "expected numbers, got \(item)") }
                return number
            }
        default:
            throw error(key, "expected a list of 3 numbers, got \(value)")
        }
    }

    func size(_ value: JSONValue) throws -> PreprocessorConfig.Size {
        let key = "size"
        switch value {
        case .object(let dict):
            let keys = dict.filter { if case .null = $0.value { return false }; return true }.keys.sorted()
            if keys == ["shortest_edge"] {
                return .shortestEdge(try positive(dict["shortest_edge"]!, key: "size.shortest_edge"))
            }
            if keys == ["height", "width"] {
                return .exact(height: try positive(dict["height"]!, key: "size.height"),
                              width: try positive(dict["width"]!, key: "size.width"))
            }
            throw error(key, "only {\"shortest_edge\": N} or {\"height\": H, \"width\": W} are supported, got keys \(keys)")
        case .array(let list) where list.count == 2:  // (height, width), as transformers accepts
            return .exact(height: try positive(list[0], key: key), width: try positive(list[1], key: key))
        default:
            return .shortestEdge(try positive(value, key: key))  // CLIP's legacy int: not square
        }
    }

    func cropSize(_ value: JSONValue) throws -> (Int, Int) {
        let key = "crop_size"
        switch value {
        case .object(let dict):
            guard let height = dict["height"], let width = dict["width"] else {
                throw error(key, "expected {\"height\": H, \"width\": W}, got keys \(dict.keys.sorted())")
            }
            return (try positive(height, key: "crop_size.height"), try positive(width, key: "crop_size.width"))
        case .array(let list) where list.count == 2:
            return (try positive(list[0], key: key), try positive(list[1], key: key))
        default:
            let side = try positive(value, key: key)
            return (side, side)
        }
    }

    private func positive(_ value: JSONValue, key: String) throws -> Int {
        let number = try integer(value, key: key)
        guard number > 0 else { throw error(key, "must be positive, got \(number)") }
        return number
    }

    private func integer(_ value: JSONValue, key: String) throws -> Int {
        guard case .number(let number) = value, number.rounded() == number, abs(number) < 1e15 else {
            throw error(key, "expected an integer, got \(value)")
        }
        return Int(number)
    }
}
