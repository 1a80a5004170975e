package import Codecs
import Reactor

/// A response from `HTTPClient`: the head at once, the body as it arrives. Reading the body
/// to its end hands the connection back to the pool; dropping it earlier closes the connection.
package final class HTTPClientResponse: Sendable {
    package let head: HTTPResponseHead
    package let body: HTTPClientResponseBody

    init(head: HTTPResponseHead, body: HTTPClientResponseBody) {
        self.head = head
        self.body = body
    }

    package var status: Int { head.status }
    package var headers: HTTPHeaders { head.headers }

    /// The whole body; throws `invalidResponse` past `limit` bytes.
    package func collect(upTo limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in body {
            guard bytes.count + chunk.count <= limit else {
                throw HTTPClientError.invalidResponse("body over \(limit) bytes")
            }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }
}

/// What the connection puts in a response body's inbox.
enum BodyEvent: Sendable {
    case bytes([UInt8])
    case failed(HTTPClientError)

    var size: Int {
        switch self {
        case .bytes(let bytes): bytes.count + 32
        case .failed: 32
        }
    }
}

/// A response body as an async sequence of byte chunks, with backpressure: the connection stops
/// reading while the application has more than the configured amount unread. Ends at the end of
/// the body; throws `HTTPClientError` if the connection fails first.
package final class HTTPClientResponseBody: AsyncSequence, Sendable {
    let inbox: MessageInbox<BodyEvent>
    private let onAbandon: @Sendable () -> Void

    init(inbox: MessageInbox<BodyEvent>, onAbandon: @escaping @Sendable () -> Void) {
        self.inbox = inbox
        self.onAbandon = onAbandon
    }

    deinit { onAbandon() }

    /// Bytes received and not read yet.
    package var unreadBytes: Int { inbox.waitingBytes }

    /// True once the whole body has arrived and been read.
    var isComplete: Bool { inbox.isDrained }

    package func makeAsyncIterator() -> Iterator { Iterator(body: self, events: inbox.makeAsyncIterator()) }

    /// Yields chunks in order.
    package struct Iterator: AsyncIteratorProtocol {
        let body: HTTPClientResponseBody
        var events: MessageInbox<BodyEvent>.Iterator

        package mutating func next() async throws -> [UInt8]? {
            switch await events.next() {
            case .bytes(let bytes): return bytes
            case .failed(let error): throw error
            case nil:
                // The inbox also ends for a cancelled reader: that is not the end of the body,
                // unless the whole body had arrived (a cancelled caller may still read an answer
                // that is all there).
                if body.isComplete { return nil }
                try Task.checkCancellation()
                return nil
            }
        }
    }
}
