import Codecs
import Models
import Routing

/// Turns request bodies and query strings into checked values: malformed JSON is a 400
/// `INVALID_REQUEST`; values of the wrong type or missing are collected and reported together
/// as a 422 `INVALID_REQUEST` with `details.fields` (`[{"field", "message"}]`).
struct RequestDecoding {
    private var problems: [JSONValue] = []

    /// The body as a JSON object; an empty body counts as `{}`.
    static func jsonObject(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        try await jsonObject(try await request.body.collect(upTo: limit))
    }

    /// `bytes` (a whole body) as a JSON object; an empty body counts as `{}`.
    static func jsonObject(_ bytes: [UInt8]) async throws -> [String: JSONValue] {
        guard bytes.contains(where: { !isJSONWhitespace($0) }) else { return [:] }
        let value: JSONValue
        do {
            value = try await JSONValue.parse(bytes)
        } catch {
            throw GatewayError(
                .invalidRequest, message: "The request body is not valid JSON.", details: ["reason": "malformed JSON"])
        }
        guard let object = value.objectValue else {
            throw GatewayError(.invalidRequest, message: "The request body must be a JSON object.")
        }
        return object
    }

    private static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Notes a problem with `field`.
    mutating func fail(_ field: String, _ message: String) {
        problems.append(["field": .string(field), "message": .string(message)])
    }

    /// A required value (absent or `null` is a problem).
    mutating func required(_ object: [String: JSONValue], _ field: String) -> JSONValue? {
        guard let value = object[field], !value.isNull else {
            fail(field, "is required")
            return nil
        }
        return value
    }

    /// An optional string (`null` counts as absent).
    mutating func optionalString(_ object: [String: JSONValue], _ field: String) -> String? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let string = value.stringValue else {
            fail(field, "must be a string")
            return nil
        }
        return string
    }

    /// An optional boolean (`null` counts as absent).
    mutating func optionalBool(_ object: [String: JSONValue], _ field: String) -> Bool? {
        guard let value = object[field], !value.isNull else { return nil }
        guard case .bool(let bool) = value else {
            fail(field, "must be a boolean")
            return nil
        }
        return bool
    }

    /// An optional object (`null` counts as absent).
    mutating func optionalObject(_ object: [String: JSONValue], _ field: String) -> [String: JSONValue]? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let nested = value.objectValue else {
            fail(field, "must be an object")
            return nil
        }
        return nested
    }

    /// An optional list of strings (`null` counts as absent).
    mutating func optionalStrings(_ object: [String: JSONValue], _ field: String) -> [String]? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let items = value.arrayValue, let strings = Optional(items.compactMap(\.stringValue)),
            strings.count == items.count
        else {
            fail(field, "must be a list of strings")
            return nil
        }
        return strings
    }

    /// Throws the 422 when any problem was noted.
    func check() throws(GatewayError) {
        guard !problems.isEmpty else { return }
        let fields = problems.compactMap { $0["field"]?.stringValue }.joined(separator: ", ")
        throw GatewayError(
            .invalidRequest, status: 422, message: "The request does not match the schema (\(fields)).",
            details: ["fields": .array(problems)])
    }

    /// The file location named by a download or URL query (`filename`, `subfolder`, `type`).
    static func fileLocation(_ request: Request) throws(GatewayError) -> FileLocation {
        let query = request.queryParameters
        var decoding = RequestDecoding()
        let filename = query["filename"] ?? ""
        if filename.isEmpty { decoding.fail("filename", "is required") }
        let typeText = query["type"] ?? "output"
        let type = FileType(rawValue: typeText)
        if type == nil { decoding.fail("type", "must be output, input or temp") }
        try decoding.check()
        return FileLocation(filename: filename, subfolder: query["subfolder"] ?? "", type: type ?? .output)
    }
}
