import Codecs
import Testing

/// The multipart parser, fed whole, byte by byte and split at every index.
struct MultipartParserTests {
    /// A parsed part: its head and the concatenation of its body chunks.
    struct Part: Equatable {
        var name: String?
        var filename: String?
        var contentType: String?
        var body: [UInt8]
    }

    static let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"

    static func form(_ parts: [(head: String, body: [UInt8])], preamble: String = "", epilogue: String = "") -> [UInt8]
    {
        var bytes = Array(preamble.utf8)
        for part in parts {
            bytes += Array("--\(boundary)\r\n\(part.head)\r\n".utf8) + part.body + Array("\r\n".utf8)
        }
        return bytes + Array("--\(boundary)--\r\n\(epilogue)".utf8)
    }

    /// Parses `chunks` in order, checking the input may end after the last.
    static func parse(_ chunks: [[UInt8]], configuration: MultipartParser.Configuration = .init()) throws -> [Part] {
        var parser = MultipartParser(boundary: boundary, configuration: configuration)
        var parts: [Part] = []
        for chunk in chunks {
            parser.append(chunk)
            while let event = try parser.next() {
                switch event {
                case .partHead(let head):
                    parts.append(
                        Part(name: head.name, filename: head.filename, contentType: head.contentType, body: []))
                case .body(let bytes):
                    #expect(!bytes.isEmpty)
                    parts[parts.count - 1].body += bytes
                case .partEnd, .finished:
                    break
                }
            }
        }
        try parser.finish()
        return parts
    }

    static let tricky: [UInt8] =
        Array("line\r\n--not-the-boundary\r\n\r\n--".utf8) + Array("\r\n--\(boundary.dropLast())x".utf8) + [
            0, 255, 13, 10,
        ]

    static let sample = form(
        [
            (head: "Content-Disposition: form-data; name=\"overwrite\"\r\n", body: Array("true".utf8)),
            (
                head:
                    "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\nContent-Type: image/png\r\n",
                body: tricky
            ),
            (head: "Content-Disposition: form-data; name=\"empty\"\r\n", body: []),
        ], preamble: "ignored preamble\r\n", epilogue: "ignored epilogue")

    static let expected = [
        Part(name: "overwrite", filename: nil, contentType: nil, body: Array("true".utf8)),
        Part(name: "file", filename: "a \"b\".png", contentType: "image/png", body: tricky),
        Part(name: "empty", filename: nil, contentType: nil, body: []),
    ]

    @Test func parsesAWholeBody() throws {
        #expect(try Self.parse([Self.sample]) == Self.expected)
    }

    @Test func parsesByteByByte() throws {
        #expect(try Self.parse(Self.sample.map { [$0] }) == Self.expected)
    }

    @Test func parsesSplitAtEveryIndex() throws {
        for index in 0...Self.sample.count {
            let chunks = [Array(Self.sample[..<index]), Array(Self.sample[index...])]
            #expect(try Self.parse(chunks) == Self.expected, "split at \(index)")
        }
    }

    @Test func holdsBackNoMoreThanADelimiter() throws {
        var parser = MultipartParser(boundary: Self.boundary)
        parser.append(Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n".utf8))
        #expect(try parser.next() != nil)
        parser.append([UInt8](repeating: 7, count: 100_000))
        var released = 0
        while let event = try parser.next() {
            if case .body(let bytes) = event { released += bytes.count }
        }
        #expect(released == 100_000 - (Self.boundary.count + 3))
    }

    @Test func aBodyWithoutItsClosingBoundaryIsRefused() throws {
        let truncated = Array(Self.sample.prefix(Self.sample.count - 30))
        #expect(throws: MultipartError.missingFinalBoundary) { try Self.parse([truncated]) }
        #expect(throws: MultipartError.missingFinalBoundary) { try Self.parse([Array("no boundary".utf8)]) }
    }

    @Test func partHeadersOverTheLimitAreRefused() throws {
        var configuration = MultipartParser.Configuration()
        configuration.maxHeaderBytes = 64
        let body = Self.form([(head: "X-Long: " + String(repeating: "a", count: 100) + "\r\n", body: [])])
        #expect(throws: MultipartError.headersTooLarge) { try Self.parse([body], configuration: configuration) }
        #expect(throws: MultipartError.headersTooLarge) {
            try Self.parse(body.map { [$0] }, configuration: configuration)
        }
    }

    @Test func malformedHeadersAndDelimitersAreRefused() throws {
        #expect(throws: MultipartError.malformedHeader) {
            try Self.parse([Self.form([(head: "no colon\r\n", body: [])])])
        }
        let badDelimiter = Array("--\(Self.boundary)garbage\r\n\r\n--\(Self.boundary)--".utf8)
        #expect(throws: MultipartError.malformedDelimiter) { try Self.parse([badDelimiter]) }
    }

    @Test func tooManyPartsAreRefused() throws {
        var configuration = MultipartParser.Configuration()
        configuration.maxParts = 2
        let body = Self.form(
            Array(repeating: (head: "Content-Disposition: form-data; name=\"x\"\r\n", body: []), count: 3))
        #expect(throws: MultipartError.tooManyParts) { try Self.parse([body], configuration: configuration) }
    }

    @Test func aPartWithoutHeadersAndTransportPaddingAreAccepted() throws {
        let body = Array("--\(Self.boundary)  \t\r\n\r\nbare\r\n--\(Self.boundary)--".utf8)
        #expect(try Self.parse([body]) == [Part(name: nil, filename: nil, contentType: nil, body: Array("bare".utf8))])
    }

    @Test func extendedFilenamesWinOverPlainOnes() throws {
        let head =
            "Content-Disposition: form-data; name=file; filename=\"plain.png\"; filename*=UTF-8''%E2%82%AC%20x.png\r\n"
        #expect(try Self.parse([Self.form([(head: head, body: [1])])]).first?.filename == "€ x.png")
    }

    @Test(
        arguments: [
            ("multipart/form-data; boundary=abc", "abc"),
            ("Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"", "a b:c"),
            ("multipart/form-data", nil),
            ("application/json; boundary=abc", nil),
            ("multipart/form-data; boundary=" + String(repeating: "x", count: 71), nil),
        ] as [(String, String?)])
    func boundariesComeFromTheContentType(contentType: String, boundary: String?) {
        #expect(MultipartBoundary.formData(contentType: contentType) == boundary)
    }
}
