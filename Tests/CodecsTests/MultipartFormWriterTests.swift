import Codecs
import Testing

/// The multipart/form-data writer: exact bytes for fields, a file part and the end, and the
/// quoting of names that would break the header.
struct MultipartFormWriterTests {
    @Test func writesFieldsAFilePartAndTheClosingBoundary() {
        let writer = MultipartFormWriter(boundary: "XyZ")
        #expect(writer.contentType == "multipart/form-data; boundary=XyZ")
        let body =
            writer.field(name: "type", value: "input")
            + writer.fileHeader(name: "image", filename: "a.png", contentType: "image/png") + [1, 2, 3]
            + writer.fileEnd() + writer.closing()
        let expected =
            "--XyZ\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ninput\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            + "Content-Type: image/png\r\n\r\n\u{1}\u{2}\u{3}\r\n--XyZ--\r\n"
        #expect(body == Array(expected.utf8))
    }

    @Test func quotesAndLineBreaksInNamesAreEncoded() {
        let header = MultipartFormWriter(boundary: "b").fileHeader(
            name: "image", filename: "evil\"\r\nX-Injected: 1.png", contentType: "image/png")
        let text = String(decoding: header, as: UTF8.self)
        #expect(text.contains("filename=\"evil%22%0D%0AX-Injected: 1.png\""))
        #expect(!text.contains("\r\nX-Injected"))
    }

    @Test func randomBoundariesDiffer() {
        #expect(MultipartFormWriter().boundary != MultipartFormWriter().boundary)
    }
}
