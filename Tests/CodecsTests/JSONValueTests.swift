import Codecs
import Testing

/// JSON values round-trip whatever ComfyUI sends: every kind, 64-bit integers exactly, Unicode.
struct JSONValueTests {
    @Test(arguments: [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-12"#, #"12.5"#, #""κόσμε \"quoted\"""#, #"[]"#, #"{}"#,
        #"[1,"two",null,{"a":[true]}]"#, #"{"a":{"b":[1,2.25,"x"]},"z":null}"#,
        #"9223372036854775807"#, #"18446744073709551615"#, #"-9223372036854775808"#,
    ])
    func documentsRoundTrip(text: String) throws {
        let value = try JSONValue(parsing: Array(text.utf8))
        #expect(String(decoding: value.serialized(), as: UTF8.self) == text)
    }

    @Test func integersKeepFullPrecision() throws {
        let seed = try JSONValue(parsing: Array(#"{"seed": 18446744073709551615, "n": 9007199254740993}"#.utf8))
        #expect(seed["seed"] == .uint(UInt64.max))
        #expect(seed["n"] == .int(9_007_199_254_740_993), "2^53 + 1 is not rounded")
        #expect(seed["n"]?.intValue == 9_007_199_254_740_993)
    }

    @Test func accessorsAnswerNilForTheWrongKind() throws {
        let value: JSONValue = ["list": [1, "a"], "flag": true, "ratio": 2.0]
        #expect(value["list"]?[1]?.stringValue == "a")
        #expect(value["list"]?[2] == nil)
        #expect(value["flag"]?.boolValue == true)
        #expect(value["ratio"]?.intValue == 2)
        #expect(value["missing"] == nil)
        #expect(value["list"]?["key"] == nil)
        #expect(JSONValue.string("x").objectValue == nil)
    }

    @Test(arguments: ["", "{", #"{"a":}"#, "[1 2]", "nul", #""unterminated"#, #"{"a" 1}"#])
    func malformedDocumentsThrow(text: String) {
        #expect(throws: (any Error).self) { try JSONValue(parsing: Array(text.utf8)) }
    }
}
