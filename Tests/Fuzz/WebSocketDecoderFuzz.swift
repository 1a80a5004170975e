// libFuzzer entry for the WebSocket frame decoder, message assembler and receiver (built by
// run.sh with FUZZ_TARGET=websocket together with Sources/Codecs/WebSocket, minus the handshake).
//
// Input: byte 0 picks the role (bit 0) and how the stream is split (bits 1-2); the rest is the
// byte stream. Checked: the same messages and the same error whatever the split; control
// payloads within 125 bytes; every message re-encoded and decoded again comes back unchanged;
// the receiver returns the same events whatever the split, nothing after it closed, and never
// sends a control frame over 125 bytes.

/// Decodes `stream` fed in `pieces`; returns the messages and the first error.
private func decodeAll(
    _ pieces: [ArraySlice<UInt8>], role: WebSocketFrameDecoder.Role
) -> ([WebSocketMessageAssembler.Message], WebSocketProtocolError?) {
    var decoder = WebSocketFrameDecoder(role: role, maxFrameSize: 1 << 16)
    var assembler = WebSocketMessageAssembler(maxMessageSize: 1 << 16)
    var messages: [WebSocketMessageAssembler.Message] = []
    for piece in pieces {
        decoder.append(Array(piece))
        do {
            while let part = try decoder.next() {
                if let message = try assembler.consume(part) { messages.append(message) }
            }
        } catch {
            return (messages, error)
        }
    }
    return (messages, nil)
}

/// Runs `pieces` through one `WebSocketReceiver`.
private func receiveAll(_ pieces: [ArraySlice<UInt8>], role: WebSocketFrameDecoder.Role) -> [WebSocketReceiver.Event] {
    var receiver = WebSocketReceiver(role: role, maxMessageSize: 1 << 16)
    return pieces.flatMap { receiver.receive(Array($0)) }
}

/// Fails unless nothing follows the event that ends the connection and every frame to send is
/// a control frame of at most 125 bytes.
private func checkReceiverEvents(_ events: [WebSocketReceiver.Event]) {
    for (index, event) in events.enumerated() {
        guard case .perform(let action) = event else { continue }
        switch action {
        case .none:
            break
        case .send(let frame):
            precondition(frame.opcode.isControl && frame.payload.count <= 125, "bad control frame \(frame)")
        case .sendAndClose(let frame):
            precondition(frame.opcode == .close && frame.payload.count <= 125, "bad close frame \(frame)")
            precondition(index == events.count - 1, "events after the close: \(events)")
        case .closeConnection:
            precondition(index == events.count - 1, "events after the close: \(events)")
        }
    }
}

/// Splits `stream` the way `mode` says.
private func split(_ stream: ArraySlice<UInt8>, mode: UInt8) -> [ArraySlice<UInt8>] {
    switch mode {
    case 0: return stream.indices.map { stream[$0...$0] }
    case 1:
        return stride(from: stream.startIndex, to: stream.endIndex, by: 3).map {
            stream[$0..<min($0 + 3, stream.endIndex)]
        }
    case 2:
        return stride(from: stream.startIndex, to: stream.endIndex, by: 7).map {
            stream[$0..<min($0 + 7, stream.endIndex)]
        }
    default:
        let middle = stream.startIndex + stream.count / 2
        return [stream[..<middle], stream[middle...]]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocket(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let role: WebSocketFrameDecoder.Role = input[0] & 1 == 0 ? .server : .client
    let stream = input[1...]
    let whole = decodeAll([stream], role: role)
    let pieces = decodeAll(split(stream, mode: (input[0] >> 1) & 3), role: role)
    guard whole.0 == pieces.0, whole.1 == pieces.1 else {
        fatalError("split changed the result: \(whole) vs \(pieces)")
    }
    let received = receiveAll([stream], role: role)
    guard received == receiveAll(split(stream, mode: (input[0] >> 1) & 3), role: role) else {
        fatalError("split changed the receiver's events")
    }
    checkReceiverEvents(received)
    for message in whole.0 {
        let frame: WebSocketFrame
        switch message {
        case .text(let text): frame = WebSocketFrame(opcode: .text, payload: Array(text.utf8))
        case .binary(let bytes): frame = WebSocketFrame(opcode: .binary, payload: bytes)
        case .ping(let bytes), .pong(let bytes):
            precondition(bytes.count <= 125, "control payload over 125 bytes")
            frame = WebSocketFrame(opcode: message == .ping(bytes) ? .ping : .pong, payload: bytes)
        case .close(let code, let reason):
            guard code != 1005 else { continue }
            frame = WebSocketFrame(
                opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: code, reason: reason))
        }
        var encoded: [UInt8] = []
        let mask: [UInt8]? = role == .server ? [1, 2, 3, 4] : nil
        WebSocketFrameEncoder.encode(frame, maskingKey: mask, into: &encoded)
        let again = decodeAll([encoded[...]], role: role)
        guard again.1 == nil, again.0 == [message] else { fatalError("round trip changed \(message) into \(again)") }
    }
    return 0
}
