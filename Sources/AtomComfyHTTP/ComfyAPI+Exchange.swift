import Client
import Codecs
import Models

/// A whole answer from ComfyUI.
struct UpstreamReply {
    let status: Int
    let body: [UInt8]
    /// The body as JSON, nil when it is not JSON (parsed once, off the loop when large).
    let json: JSONValue?

    /// The start of the body as text, for error details.
    var excerpt: String { String(decoding: body.prefix(512), as: UTF8.self) }
}

extension ComfyAPI {
    /// Sends a request and reads the whole answer.
    func exchange(
        _ method: HTTPMethod, _ target: String, json: JSONValue? = nil
    ) async throws(GatewayError) -> UpstreamReply {
        var request = HTTPClientRequest(method: method, target: target)
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(await json.serialize())
        }
        return try await exchange(request)
    }

    func exchange(_ request: HTTPClientRequest) async throws(GatewayError) -> UpstreamReply {
        var request = request
        request.target = pathPrefix + request.target
        // A JSON answer is read whole: a body trickled byte by byte must not outlive the timeout.
        request.bodyWithinTimeout = true
        do {
            let response = try await client.execute(request)
            let body = try await response.collect(upTo: maxResponseBytes)
            return UpstreamReply(status: response.status, body: body, json: try? await JSONValue.parse(body))
        } catch {
            throw gatewayError(for: error)
        }
    }

    /// Sends a request and returns the response as soon as its head is in (for downloads).
    func stream(_ request: HTTPClientRequest) async throws(GatewayError) -> HTTPClientResponse {
        var request = request
        request.target = pathPrefix + request.target
        do {
            return try await client.execute(request)
        } catch {
            throw gatewayError(for: error)
        }
    }

    /// The API error for a failed exchange.
    func gatewayError(for error: any Error) -> GatewayError {
        if error is CancellationError { return gatewayError(for: HTTPClientError.cancelled) }
        guard let error = error as? HTTPClientError else {
            return GatewayError(.internalError, message: "Talking to ComfyUI failed unexpectedly.")
        }
        switch error {
        case .connectFailed(let reason), .connectionClosed(let reason):
            return GatewayError(
                .connectionError, message: "ComfyUI at \(baseURL) is not reachable: \(error)",
                details: ["upstream": .string(baseURL), "reason": .string(reason)])
        case .invalidResponse(let reason):
            return GatewayError(
                .connectionError, message: "ComfyUI at \(baseURL) sent a response the gateway cannot read: \(reason)",
                details: ["upstream": .string(baseURL), "reason": .string(reason)])
        case .timedOut(let what):
            let seconds = client.configuration.requestTimeout.components.seconds
            return GatewayError(
                .taskTimeout, message: "ComfyUI at \(baseURL) did not answer within \(seconds) s (\(what)).",
                details: ["upstream": .string(baseURL), "timeout_seconds": .int(seconds)])
        case .cancelled:
            // The client left; nobody reads this answer. 499 is nginx's "client closed request".
            return GatewayError(
                .internalError, status: 499, message: "The request was cancelled: its client left.",
                details: ["upstream": .string(baseURL)])
        case .invalidRequest, .shutDown:
            return GatewayError(
                .internalError, message: "The request to ComfyUI could not be sent: \(error)",
                details: ["upstream": .string(baseURL)])
        }
    }

    /// The API error for an answer with an unexpected status or shape.
    func unexpected(_ reply: UpstreamReply, _ code: ErrorCode, _ operation: String, status: Int? = nil) -> GatewayError
    {
        GatewayError(
            code, status: status, message: "ComfyUI answered \(operation) with HTTP \(reply.status).",
            details: [
                "upstream": .string(baseURL), "upstream_status": .int(Int64(reply.status)),
                "upstream_body": .string(reply.excerpt),
            ])
    }

    /// The API error for a 200 whose body is not what ComfyUI sends.
    func malformed(_ reply: UpstreamReply, _ code: ErrorCode, _ operation: String, status: Int? = nil) -> GatewayError {
        GatewayError(
            code, status: status, message: "ComfyUI's answer to \(operation) has an unexpected shape.",
            details: ["upstream": .string(baseURL), "upstream_body": .string(reply.excerpt)])
    }

    /// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
    static func queryEncoded(_ value: String) -> String {
        QueryEncoding.encode(value)
    }

    /// A target with a query string built from `items` (nil values left out).
    static func target(_ path: String, _ items: [(String, String?)]) -> String {
        let query = items.compactMap { name, value in value.map { "\(name)=\(queryEncoded($0))" } }
        return query.isEmpty ? path : path + "?" + query.joined(separator: "&")
    }
}
