import Codecs
import Testing

/// The one URL parser: every form the settings and the upstream socket use, and what it refuses.
struct EndpointURLTests {
    @Test func hostPortPathAndQueryComeApart() throws {
        let ipv6 = try #require(EndpointURL("http://[::1]:8188/comfy/"))
        #expect(ipv6.host == "::1" && ipv6.port == 8188 && ipv6.path == "/comfy" && ipv6.query == nil)
        #expect(ipv6.authority == "[::1]:8188")
        #expect(ipv6.normalized == "http://[::1]:8188/comfy")
        let plain = try #require(EndpointURL("http://comfy.internal"))
        #expect(plain.host == "comfy.internal" && plain.port == 80 && plain.path == "" && plain.resource == "/")
        #expect(plain.authority == "comfy.internal")
        let socket = try #require(EndpointURL("WS://127.0.0.1:8188/ws?clientId=abc"))
        #expect(socket.scheme == .ws && socket.port == 8188 && socket.resource == "/ws?clientId=abc")
        let bare = try #require(EndpointURL("ws://h?x=1"))
        #expect(bare.resource == "/?x=1")
        #expect(EndpointURL("https://example.com/g")?.port == 443)
        #expect(EndpointURL("https://example.com:443/g")?.authority == "example.com")
    }

    @Test(arguments: [
        "ftp://h", "http//h", "http://", "http://:80", "http://u@h", "http://h:0", "http://h:65536", "http://h:x",
        "http://[::1", "http://[::1]x", "http://a b", "ws://h:", "http://h:+80",
    ])
    func malformedURLsAreRefused(text: String) {
        #expect(EndpointURL(text) == nil)
    }
}
