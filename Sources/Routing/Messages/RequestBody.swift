import DequeModule

/// The body of a request as it arrives: an async sequence of byte chunks with backpressure.
///
/// The connection pushes chunks in; when more than `highWaterMark` bytes wait unread it stops
/// reading the socket, and it resumes once the handler has consumed them. `collect(upTo:)`
/// gathers a whole body for JSON routes and enforces the route's size limit. Loop-bound: the
/// handler that reads it runs on the loop executor.
package final class RequestBody: AsyncSequence {
    /// A chunk of body bytes, in arrival order.
    package typealias Element = [UInt8]

    private var chunks = Deque<[UInt8]>()
    private var bufferedBytes = 0
    private var finished = false
    private var failure: (any Error)?
    private var waiter: CheckedContinuation<[UInt8]?, any Error>?
    /// The announced length, when `Content-Length` gave one.
    package let expectedLength: Int?
    let highWaterMark: Int
    /// Called with `true` to pause the socket, `false` to resume it.
    var onBackpressure: ((Bool) -> Void)?
    private var paused = false

    init(expectedLength: Int?, highWaterMark: Int = 256 * 1024) {
        self.expectedLength = expectedLength
        self.highWaterMark = highWaterMark
    }

    /// A body that is already complete (no body, or bytes known up front).
    package static func complete(_ bytes: [UInt8] = []) -> RequestBody {
        let body = RequestBody(expectedLength: bytes.count)
        if !bytes.isEmpty { body.push(bytes) }
        body.finish()
        return body
    }

    func push(_ bytes: [UInt8]) {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: bytes)
            return
        }
        chunks.append(bytes)
        bufferedBytes += bytes.count
        if bufferedBytes > highWaterMark && !paused {
            paused = true
            onBackpressure?(true)
        }
    }

    func finish() {
        // A connection's shared empty body is finished already: it stays as it is.
        guard !finished else { return }
        finished = true
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: nil)
        }
    }

    func fail(_ error: any Error) {
        guard !finished, failure == nil else { return }
        failure = error
        if let waiter {
            self.waiter = nil
            waiter.resume(throwing: error)
        }
    }

    /// Chunks the queue holds (only those not taken yet, whatever the pace of the two sides).
    var retainedChunkSlots: Int { chunks.count }

    /// The next chunk, nil at the end; throws if the body failed.
    package func next() async throws -> [UInt8]? {
        if let chunk = chunks.popFirst() {
            bufferedBytes -= chunk.count
            if paused && bufferedBytes <= highWaterMark / 4 {
                paused = false
                onBackpressure?(false)
            }
            return chunk
        }
        if let failure { throw failure }
        if finished { return nil }
        return try await withCheckedThrowingContinuation { waiter = $0 }
    }

    /// Reads the whole body; throws `RequestBodyError.tooLarge` as soon as it passes `limit` bytes.
    package func collect(upTo limit: Int) async throws -> [UInt8] {
        if let expectedLength, expectedLength > limit { throw RequestBodyError.tooLarge(limit: limit) }
        var bytes: [UInt8] = []
        if let expectedLength { bytes.reserveCapacity(expectedLength) }
        while let chunk = try await next() {
            guard bytes.count + chunk.count <= limit else { throw RequestBodyError.tooLarge(limit: limit) }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// Iterates the chunks; each `next()` may suspend until bytes arrive.
    package struct AsyncIterator: AsyncIteratorProtocol {
        let body: RequestBody
        package mutating func next() async throws -> [UInt8]? { try await body.next() }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

/// Errors a request body stream ends with.
package enum RequestBodyError: Error, Equatable {
    /// More bytes than the limit: the server answers 413.
    case tooLarge(limit: Int)
    /// The connection closed before the body was complete.
    case incomplete
    /// The body made no progress for too long: the server answers 408.
    case timedOut
    /// The body's framing was malformed (a bad chunk): the server answers 400.
    case malformed(String)
}
