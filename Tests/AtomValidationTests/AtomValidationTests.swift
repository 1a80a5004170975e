import AtomValidation
import Codecs
import Models
import Testing

/// The pure checks: workflow structure, name safety, image sniffing.
struct WorkflowGraphCheckTests {
    static let valid: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 8, "height": 8, "batch_size": 1, "color": 0]],
        "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": "x"]],
    ]

    @Test func aSoundGraphPasses() throws {
        try WorkflowGraphCheck.check(Self.valid)
    }

    @Test(
        arguments: [
            ("not an object", JSONValue.array([1])),
            ("empty", [:]),
        ] as [(String, JSONValue)])
    func aGraphThatIsNoObjectOfNodesFails(label: String, workflow: JSONValue) {
        let error = #expect(throws: GatewayError.self) { try WorkflowGraphCheck.check(workflow) }
        #expect(error?.code == .workflowValidationError, "\(label)")
        #expect(error?.details["node_errors"] == [:])
    }

    @Test(
        arguments: [
            ("node is a string", JSONValue.string("x"), "invalid_node"),
            ("no class_type", ["inputs": [:]], "missing_class_type"),
            ("empty class_type", ["class_type": "", "inputs": [:]], "missing_class_type"),
            ("no inputs", ["class_type": "SaveImage"], "missing_inputs"),
            ("inputs not an object", ["class_type": "SaveImage", "inputs": [1]], "missing_inputs"),
            ("dangling link", ["class_type": "SaveImage", "inputs": ["images": ["9", 0]]], "dangling_link"),
        ] as [(String, JSONValue, String)])
    func aBrokenNodeIsReportedInComfyUIsShape(label: String, node: JSONValue, type: String) {
        var graph = Self.valid.objectValue ?? [:]
        graph["3"] = node
        let error = #expect(throws: GatewayError.self) { try WorkflowGraphCheck.check(.object(graph)) }
        #expect(error?.status == 400)
        #expect(error?.details["error"]?["type"] == "invalid_prompt")
        #expect(error?.details["node_errors"]?["3"]?["errors"]?[0]?["type"]?.stringValue == type, "\(label)")
        #expect(error?.details["node_errors"]?.objectValue?.count == 1)
    }

    @Test func theUIFormatIsRecognisedAndExplained() {
        let ui: JSONValue = [
            "last_node_id": 2, "nodes": [["id": 1, "type": "EmptyImage"]], "links": [], "version": 0.4,
        ]
        let error = #expect(throws: GatewayError.self) { try WorkflowGraphCheck.check(ui) }
        #expect(error?.message.contains("API format") == true)
        #expect(error?.details["node_errors"] == [:])
    }

    static func nested(_ levels: Int) -> JSONValue {
        (0..<levels).reduce(JSONValue.int(1)) { inner, _ in .array([inner]) }
    }

    @Test func valuesNestedUpToTheLimitPass() throws {
        var graph = Self.valid.objectValue ?? [:]
        graph["3"] = ["class_type": "X", "inputs": ["deep": Self.nested(WorkflowGraphCheck.maxNesting)]]
        try WorkflowGraphCheck.check(.object(graph))
        try WorkflowGraphCheck.checkExtraData(["deep": Self.nested(WorkflowGraphCheck.maxNesting)])
    }

    @Test(arguments: ["inputs", "_meta"])
    func aValueNestedBeyondTheLimitIsRefused(field: String) {
        var graph = Self.valid.objectValue ?? [:]
        let deep: JSONValue = field == "inputs" ? ["deep": Self.nested(65)] : Self.nested(65)
        graph["3"] = .object(["class_type": "X", "inputs": [:]].merging([field: deep]) { $1 })
        let error = #expect(throws: GatewayError.self) { try WorkflowGraphCheck.check(.object(graph)) }
        #expect(error?.status == 400)
        #expect(error?.message.contains("64 levels") == true)
        #expect(error?.details["node_errors"]?["3"]?["errors"]?[0]?["type"] == "nesting_too_deep")
    }

    @Test func extraDataNestedBeyondTheLimitIsRefused() {
        let error = #expect(throws: GatewayError.self) { try WorkflowGraphCheck.checkExtraData(["x": Self.nested(65)]) }
        #expect(error?.code == .invalidRequest)
    }

    @Test func aListValueThatIsNoLinkIsNotChecked() throws {
        var graph = Self.valid.objectValue ?? [:]
        graph["3"] = ["class_type": "X", "inputs": ["size": [512, 512], "names": ["a", "b"]]]
        try WorkflowGraphCheck.check(.object(graph))
    }
}

struct SafeNameTests {
    @Test(arguments: [
        "..", ".", "../x.png", "a/b.png", "/etc/passwd", "..\\x.png", "a\\b", "a\u{0}.png", "x\n.png", "",
        String(repeating: "a", count: 256), "x.png [input]", "x.png [temp]", "x.png [output]",
        "x.png[input]", "x.png[temp]", "x.png[output]", "[input]",
    ])
    func unsafeFilenamesAreRefused(name: String) {
        let error = #expect(throws: GatewayError.self) { try SafeName.checkFilename(name) }
        #expect(error?.code == .fileOperationError)
        #expect(error?.status == 400)
    }

    @Test(arguments: ["a.png", "ComfyUI_00001_.png", "名前 (1).webp", "..a.png", "a..png", ".hidden", "x [inputs].png"])
    func ordinaryFilenamesPass(name: String) throws {
        try SafeName.checkFilename(name)
    }

    @Test(arguments: ["..", "a/..", "../a", "/abs", "a//b", "a/", "a\\b", "a/\u{0}", "./a", ".temp", ".x", "a/.b"])
    func unsafeSubfoldersAreRefused(subfolder: String) {
        #expect(throws: GatewayError.self) { try SafeName.checkSubfolder(subfolder) }
    }

    @Test func subfoldersSplitIntoComponents() throws {
        #expect(try SafeName.checkSubfolder("") == [])
        #expect(try SafeName.checkSubfolder("a/b c/d") == ["a", "b c", "d"])
    }
}

struct ImageKindTests {
    @Test(
        arguments: [
            ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13], ImageKind.png),
            ([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 0x4A, 0x46], .jpeg),
            (Array("RIFF".utf8) + [1, 2, 3, 4] + Array("WEBPVP8 ".utf8), .webp),
            (Array("GIF89a".utf8) + [1, 0], .gif),
            (Array("GIF87a".utf8), .gif),
        ] as [([UInt8], ImageKind)])
    func imagesAreKnownByTheirFirstBytes(bytes: [UInt8], kind: ImageKind) {
        #expect(ImageKind.sniff(bytes) == kind)
    }

    @Test(arguments: [
        Array("hello world, not an image".utf8), [0x89, 0x50, 0x4E], Array("RIFF\0\0\0\0WAVE".utf8), [],
        Array("<svg xmlns=".utf8),
    ])
    func otherBytesAreNotImages(bytes: [UInt8]) {
        #expect(ImageKind.sniff(bytes) == nil)
    }

    @Test func mediaTypesComeFromExtensions() {
        #expect(MediaType.forFilename("a.PNG") == "image/png")
        #expect(MediaType.forFilename("clip.webm") == "video/webm")
        #expect(MediaType.forFilename("noextension") == "application/octet-stream")
    }
}
