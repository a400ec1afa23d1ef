import Foundation

/// A JSON value together with where it came from (file and key path), so every accessor can throw an
/// error that names both: `…/tokenizer.json: model.merges[3]: expected a string, found an array`.
struct JSONNode {
    let value: JSON
    let file: String
    let path: String

    init(value: JSON, file: String, path: String = "") {
        self.value = value
        self.file = file
        self.path = path
    }

    /// Reads and parses `url`, naming the file in any error.
    static func load(_ url: URL) throws -> JSONNode {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(file: url.path, key: "", "cannot read the file (\(error.localizedDescription))")
        }
        do {
            return JSONNode(value: try JSONParser.parse([UInt8](data)), file: url.path)
        } catch let error as JSONSyntaxError {
            throw TokenizerError(file: url.path, key: "", "not valid JSON: \(error)")
        }
    }

    func error(_ detail: String) -> TokenizerError { TokenizerError(file: file, key: path, detail) }

    private func child(_ value: JSON, key: String) -> JSONNode {
        JSONNode(value: value, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    private func element(_ value: JSON, index: Int) -> JSONNode {
        JSONNode(value: value, file: file, path: "\(path)[\(index)]")
    }

    var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    // MARK: Objects

    /// The entries of an object, in file order.
    func entries() throws -> [(key: String, node: JSONNode)] {
        guard case .object(let entries) = value else { throw error("expected an object, found \(value.kindName)") }
        return entries.map { ($0.key, child($0.value, key: $0.key)) }
    }

    /// The value of `key` (the last one when repeated), or nil when the key is absent.
    func optional(_ key: String) throws -> JSONNode? {
        guard case .object(let entries) = value else { throw error("expected an object, found \(value.kindName)") }
        guard let entry = entries.last(where: { $0.key == key }) else { return nil }
        return child(entry.value, key: key)
    }

    /// The value of `key`, absent or null both read as nil.
    func optionalNonNull(_ key: String) throws -> JSONNode? {
        guard let node = try optional(key), !node.isNull else { return nil }
        return node
    }

    /// The value of `key`, which must be present.
    func required(_ key: String) throws -> JSONNode {
        guard let node = try optional(key) else {
            throw TokenizerError(file: file, key: path.isEmpty ? key : "\(path).\(key)", "missing key")
        }
        return node
    }

    /// The `type` tag of a component object.
    func typeName() throws -> String {
        try required("type").string()
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        try optionalNonNull(key)?.bool() ?? fallback
    }

    func string(_ key: String) throws -> String { try required(key).string() }

    // MARK: Arrays

    func array() throws -> [JSONNode] {
        guard case .array(let elements) = value else { throw error("expected an array, found \(value.kindName)") }
        return elements.enumerated().map { element($1, index: $0) }
    }

    // MARK: Scalars

    func string() throws -> String {
        guard case .string(let text) = value else { throw error("expected a string, found \(value.kindName)") }
        return text
    }

    func bool() throws -> Bool {
        guard case .bool(let flag) = value else { throw error("expected a boolean, found \(value.kindName)") }
        return flag
    }

    func int() throws -> Int {
        guard case .number(let text) = value, let integer = Int(text) else {
            throw error("expected an integer, found \(value.kindName)")
        }
        return integer
    }

    func double() throws -> Double {
        guard case .number(let text) = value, let number = Double(text) else {
            throw error("expected a number, found \(value.kindName)")
        }
        return number
    }

    /// A string that must hold exactly one Unicode scalar (Rust's `char` fields).
    func scalar() throws -> Unicode.Scalar {
        let text = try string()
        let scalars = Array(text.unicodeScalars)
        guard scalars.count == 1 else { throw error("expected a single character, found \"\(text)\"") }
        return scalars[0]
    }
}
