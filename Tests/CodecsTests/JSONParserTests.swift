import Codecs
import FoundationEssentials
import Testing

/// The hand-written JSON parser and writer against RFC 8259's edge cases and against
/// Foundation's decoder on the same documents.
struct JSONParserTests {
    @Test(arguments: [
        (#""\u00e9\ud83d\ude00\n\t\"\\\/""#, "é😀\n\t\"\\/"),
        (#""\ud83d""#, "\u{FFFD}"),
        (#""plain ascii""#, "plain ascii"),
        (#""κόσμε""#, "κόσμε"),
    ])
    func stringsAndEscapesDecode(text: String, expected: String) throws {
        #expect(try JSONValue(parsing: Array(text.utf8)) == .string(expected))
    }

    @Test(arguments: [
        "01", "-", "1.", ".5", "1e", "+1", "[1,]", #"{"a":1,}"#, "tru", "\"\u{01}\"", #""\x""#, #""\u12""#,
        "1 2", "[", "\"", "{\"a\"", "nan", "Infinity", "1e999",
    ])
    func invalidDocumentsAreRefused(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func nestingIsBounded() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(deep.utf8)) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        _ = try JSONParser.parse(Array(fine.utf8))
    }

    @Test func numbersKeepTheirKind() throws {
        let value = try JSONValue(parsing: Array(#"[1, -1, 1.5, 1e3, 2E-2, 18446744073709551616, -0]"#.utf8))
        #expect(
            value == [
                .int(1), .int(-1), .double(1.5), .double(1000), .double(0.02), .double(18446744073709551616), .int(0),
            ])
    }

    @Test func theWriterEscapesControlCharactersAndSortsKeys() {
        let value: JSONValue = ["b": "x\u{01}\"\\\n", "a": [1.0, .null, false]]
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"a":[1.0,null,false],"b":"x\u0001\"\\\n"}"#)
    }

    @Test func theParserAgreesWithFoundation() throws {
        let document = #"""
            {"prompt": [3, "id", {"1": {"class_type": "KSampler", "inputs": {"seed": 42, "cfg": 7.5,
            "model": ["4", 0], "text": "a \"cat\" \u00e9"}}}, {"client_id": "c"}, ["9"]], "empty": {}, "list": [],
            "nested": [[[]]], "t": true, "f": false, "n": null}
            """#
        let ours = try JSONValue(parsing: Array(document.utf8))
        let foundations = try JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))
        #expect(ours == foundations)
        #expect(try JSONValue(parsing: ours.serialized()) == ours)
    }
}
