/// Decodes WebSocket frames (RFC 6455 section 5) incrementally, for either role.
///
/// `next()` returns a frame's head as soon as its header is complete, then its payload
/// (unmasked) in parts as bytes arrive, then `.end`. Streaming the payload lets a text message
/// be UTF-8-checked byte by byte as it arrives, and keeps a large binary frame from being
/// buffered whole. Every framing rule is checked as soon as the bytes that break it are seen:
/// RSV bits without a negotiated extension, reserved opcodes, masking (clients must mask,
/// servers must not), control frames over 125 bytes or fragmented, a 64-bit length with its top
/// bit set, and frames over `maxFrameSize`.
package struct WebSocketFrameDecoder: Sendable {
    /// Which end is decoding: a server decodes masked client frames, a client unmasked ones.
    package enum Role: Sendable {
        case server, client
    }

    /// The fields of a frame header.
    package struct Header: Sendable, Equatable {
        package var fin: Bool
        package var reserved: UInt8
        package var opcode: WebSocketOpcode
        package var length: Int
    }

    /// What `next()` returns.
    package enum Part: Sendable, Equatable {
        case head(Header)
        /// Unmasked payload bytes of the current frame.
        case payload([UInt8])
        /// The current frame is complete.
        case end
    }

    private enum State: Sendable {
        case header
        case payload(remaining: Int, mask: [UInt8]?, offset: Int)
        case failed(WebSocketProtocolError)
    }

    package let role: Role
    package let maxFrameSize: Int
    private var state = State.header
    private var buffer: [UInt8] = []
    private var readIndex = 0

    /// - Parameter maxFrameSize: the largest payload accepted in one frame (1009 beyond).
    package init(role: Role, maxFrameSize: Int = 16 * 1024 * 1024) {
        self.role = role
        self.maxFrameSize = maxFrameSize
    }

    /// Adds received bytes.
    package mutating func append(_ bytes: [UInt8]) {
        if readIndex == buffer.count {
            buffer = bytes
            readIndex = 0
            return
        }
        if readIndex > 4096 && readIndex * 2 > buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received and not yet returned.
    package var bufferedByteCount: Int { buffer.count - readIndex }

    /// The next part, or nil when more bytes are needed. After an error, every call throws it.
    package mutating func next() throws(WebSocketProtocolError) -> Part? {
        switch state {
        case .failed(let error):
            throw error
        case .header:
            do {
                guard let (header, mask) = try parseHeader() else { return nil }
                state = .payload(remaining: header.length, mask: mask, offset: 0)
                return .head(header)
            } catch {
                state = .failed(error)
                throw error
            }
        case .payload(let remaining, let mask, let offset):
            if remaining == 0 {
                state = .header
                return .end
            }
            let available = buffer.count - readIndex
            guard available > 0 else { return nil }
            let count = min(remaining, available)
            var chunk = Array(buffer[readIndex..<(readIndex + count)])
            readIndex += count
            if readIndex == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                readIndex = 0
            }
            if let mask {
                for index in chunk.indices { chunk[index] ^= mask[(offset + index) & 3] }
            }
            state = .payload(remaining: remaining - count, mask: mask, offset: (offset + count) & 3)
            return .payload(chunk)
        }
    }

    /// Decodes whole frames (payload gathered): for clients and tests that want frames.
    package mutating func nextFrame(partial: inout WebSocketFrame?) throws(WebSocketProtocolError) -> WebSocketFrame? {
        while let part = try next() {
            switch part {
            case .head(let header):
                partial = WebSocketFrame(fin: header.fin, reserved: header.reserved, opcode: header.opcode)
            case .payload(let bytes):
                partial?.payload += bytes
            case .end:
                defer { partial = nil }
                return partial
            }
        }
        return nil
    }

    private mutating func parseHeader() throws(WebSocketProtocolError) -> (Header, [UInt8]?)? {
        let available = buffer.count - readIndex
        guard available >= 2 else { return nil }
        let first = buffer[readIndex]
        let second = buffer[readIndex + 1]
        let fin = first & 0x80 != 0
        let reserved = (first >> 4) & 0x07
        let opcode = WebSocketOpcode(rawValue: first & 0x0F)!
        let masked = second & 0x80 != 0
        let shortLength = Int(second & 0x7F)
        guard reserved == 0 else { throw .protocolError("RSV bits set without a negotiated extension") }
        guard opcode.isDefined else { throw .protocolError("reserved opcode \(opcode.rawValue)") }
        if opcode.isControl {
            guard fin else { throw .protocolError("fragmented control frame") }
            guard shortLength <= 125 else { throw .protocolError("control frame over 125 bytes") }
        }
        switch role {
        case .server where !masked: throw .protocolError("unmasked frame from a client")
        case .client where masked: throw .protocolError("masked frame from a server")
        default: break
        }
        let lengthBytes = shortLength == 126 ? 2 : shortLength == 127 ? 8 : 0
        let headerSize = 2 + lengthBytes + (masked ? 4 : 0)
        if lengthBytes == 8 && available >= 3 && buffer[readIndex + 2] & 0x80 != 0 {
            throw .protocolError("64-bit length with the most significant bit set")
        }
        guard available >= headerSize else { return nil }
        var length = shortLength
        if lengthBytes > 0 {
            length = 0
            for index in 0..<lengthBytes { length = length << 8 | Int(buffer[readIndex + 2 + index]) }
        }
        guard length <= maxFrameSize else { throw .messageTooBig(limit: maxFrameSize) }
        let mask = masked ? Array(buffer[(readIndex + 2 + lengthBytes)..<(readIndex + headerSize)]) : nil
        readIndex += headerSize
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        return (Header(fin: fin, reserved: reserved, opcode: opcode, length: length), mask)
    }
}
