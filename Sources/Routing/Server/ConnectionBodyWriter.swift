import Codecs
import Reactor

/// Why a streamed body was cut off.
enum StreamedBodyError: Error {
    /// The producer wrote more or fewer bytes than the `Content-Length` it announced.
    case lengthMismatch(announced: Int, written: Int)
}

/// Writes a streamed response body to the socket, chunk-framed when needed, waiting while it is
/// backed up, and refusing to write past an announced length. Loop-bound.
final class ConnectionBodyWriter: ResponseBodyWriter {
    let tcp: TCPConnection
    let chunked: Bool
    let length: Int?
    let traffic: ServerTraffic
    private(set) var written = 0

    init(tcp: TCPConnection, chunked: Bool, length: Int?, traffic: ServerTraffic) {
        self.traffic = traffic
        self.tcp = tcp
        self.chunked = chunked
        self.length = length
    }

    func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        if let length, written + bytes.count > length {
            throw StreamedBodyError.lengthMismatch(announced: length, written: written + bytes.count)
        }
        written += bytes.count
        traffic.streamedBodyBytes += bytes.count
        if chunked {
            var framed: [UInt8] = []
            framed.reserveCapacity(bytes.count + 16)
            HTTPEncoder.encodeChunk(bytes, into: &framed)
            guard tcp.write(framed) else { throw UVError.cancelled("write") }
        } else {
            guard tcp.write(bytes) else { throw UVError.cancelled("write") }
        }
        try await tcp.waitUntilWritable()
    }

    /// The producer is done: checks the announced length was met and ends a chunked body.
    func finish() throws {
        if let length, written != length {
            throw StreamedBodyError.lengthMismatch(announced: length, written: written)
        }
        if chunked {
            var last: [UInt8] = []
            HTTPEncoder.encodeLastChunk(into: &last)
            tcp.write(last)
        }
    }
}
