// libFuzzer entry for the streaming multipart parser (built by run.sh with FUZZ_TARGET=multipart
// together with Sources/Codecs/Multipart and the header type it uses).
//
// Input: byte 0 picks how the stream is split (whole, halves, bytes, primes); the rest is a body
// with the boundary "b". Checked: the same parts (heads and concatenated bodies) and the same
// error whatever the split; no body event is empty; bytes released never exceed bytes fed; and
// a body that parsed completely is re-encoded and parses back to the same parts.

/// One part as parsed.
private struct Part: Equatable {
    var name: String?
    var filename: String?
    var body: [UInt8]
}

private func parse(_ pieces: [ArraySlice<UInt8>]) -> ([Part], MultipartError?, Bool) {
    var parser = MultipartParser(boundary: "b")
    var parts: [Part] = []
    var fed = 0
    var released = 0
    for piece in pieces {
        parser.append(Array(piece))
        fed += piece.count
        do {
            while let event = try parser.next() {
                switch event {
                case .partHead(let head): parts.append(Part(name: head.name, filename: head.filename, body: []))
                case .body(let bytes):
                    precondition(!bytes.isEmpty, "empty body event")
                    released += bytes.count
                    precondition(released <= fed, "released more than fed")
                    parts[parts.count - 1].body += bytes
                case .partEnd, .finished: break
                }
            }
        } catch {
            return (parts, error, false)
        }
    }
    do {
        try parser.finish()
    } catch {
        return (parts, error, false)
    }
    return (parts, nil, true)
}

private func split(_ bytes: [UInt8], mode: UInt8) -> [ArraySlice<UInt8>] {
    switch mode {
    case 0: return [bytes[...]]
    case 1: return [bytes[..<(bytes.count / 2)], bytes[(bytes.count / 2)...]]
    case 2: return bytes.indices.map { bytes[$0...$0] }
    default:
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var size = 3
        while start < bytes.count {
            let end = min(start + size, bytes.count)
            pieces.append(bytes[start..<end])
            start = end
            size = size == 3 ? 7 : size == 7 ? 13 : 3
        }
        return pieces
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let stream = Array(input.dropFirst())
    let whole = parse([stream[...]])
    let pieces = parse(split(stream, mode: input[0] & 3))
    guard whole.0 == pieces.0, whole.1 == pieces.1 else { fatalError("split changed the result") }
    guard whole.2 else { return 0 }
    var encoded: [UInt8] = []
    for part in whole.0 {
        var disposition = "Content-Disposition: form-data"
        if let name = part.name, !name.contains("\""), !name.contains("\\"), !name.contains("\r") {
            disposition += "; name=\"\(name)\""
        }
        encoded += Array("--b\r\n\(disposition)\r\n\r\n".utf8) + part.body + Array("\r\n".utf8)
    }
    encoded += Array("--b--\r\n".utf8)
    let again = parse([encoded[...]])
    guard again.1 == nil, again.0.map(\.body) == whole.0.map(\.body) else {
        fatalError("re-encoding changed the parts")
    }
    return 0
}
