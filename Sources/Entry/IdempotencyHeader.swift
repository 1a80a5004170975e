import Codecs
import Models
import Routing

/// The `Idempotency-Key` request header of `submit`: 1-255 visible ASCII characters.
enum IdempotencyHeader {
    static let name = "Idempotency-Key"

    /// The key the request carries, nil when none; 422 `INVALID_REQUEST` when it is malformed.
    static func key(of request: Request) throws(GatewayError) -> String? {
        guard let key = request.header(name) else { return nil }
        guard !key.isEmpty, key.utf8.count <= 255, key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw GatewayError(
                .invalidRequest, status: 422, message: "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                details: [
                    "fields": [["field": "Idempotency-Key", "message": "must be 1 to 255 visible ASCII characters"]]
                ])
        }
        return key
    }

    /// The header's OpenAPI parameter.
    static let parameter: JSONValue = [
        "name": .string(name), "in": "header", "required": false,
        "description": """
        Makes the submit safe to retry: the same key with the same body within 24 hours answers the first \
        request's answer again (with `Idempotent-Replayed: true`) and queues nothing; with another body it is \
        409 IDEMPOTENCY_CONFLICT.
        """,
        "schema": ["type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$"],
    ]
}
