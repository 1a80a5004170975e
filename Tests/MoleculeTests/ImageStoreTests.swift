import Codecs
import ComfyEmulatorSupport
import Core
import Foundation
import Models
import MoleculeImage
import Testing

/// MoleculeImage against the emulator and real files: streamed multipart uploads, the cached
/// download, entity tags, and refusals before any I/O.
struct ImageStoreTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<5000).map { UInt8($0 % 251) }
    static let boundary = "XyZ-boundary-123"

    /// A multipart body with `fields` then the file, fed in 7-byte chunks.
    static func form(file: [UInt8], filename: String = "in.png", fields: [(String, String)] = []) -> [[UInt8]] {
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Array(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: image/png\r\n\r\n"
                .utf8)
        body += file + Array("\r\n--\(boundary)--\r\n".utf8)
        return stride(from: 0, to: body.count, by: 7).map { Array(body[$0..<min($0 + 7, body.count)]) }
    }

    static func upload(_ store: ImageStore, _ chunks: [[UInt8]]) async throws -> UploadResult {
        var iterator = chunks.makeIterator()
        return try await store.upload(
            contentType: "multipart/form-data; boundary=\(boundary)", base: "http://gw.test", body: { iterator.next() })
    }

    /// Whether the file at `path` holds exactly `bytes` (a Bool, so a failure does not print megabytes).
    static func holds(_ path: String, _ bytes: [UInt8]) -> Bool {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) == bytes } ?? false
    }

    static func files(in directory: String) -> [String] {
        (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).sorted()
    }

    @Test func anUploadIsStoredLocallyAndInComfyUI() async throws {
        try await MoleculeHarness.run { harness in
            let store = ImageStore(backend: harness.backend, configuration: harness.configuration, loop: harness.loop)
            let result = try await Self.upload(
                store, Self.form(file: Self.png, fields: [("subfolder", "sub/dir"), ("overwrite", "false")]))
            #expect(result.location == FileLocation(filename: "in.png", subfolder: "sub/dir", type: .input))
            #expect(result.size == Self.png.count)
            #expect(
                result.url == "http://gw.test/api/v1/images/download?filename=in.png&subfolder=sub%2Fdir&type=input")
            let local = harness.configuration.inputDirectory + "/sub/dir/in.png"
            #expect(Self.holds(local, Self.png))
            let upstream = harness.emulator.rootPath + "/input/sub/dir/in.png"
            #expect(Self.holds(upstream, Self.png))
            var different = Self.png
            different[100] ^= 0xFF
            let renamed = try await Self.upload(store, Self.form(file: different, fields: [("subfolder", "sub/dir")]))
            #expect(renamed.location.filename != "in.png", "ComfyUI renames a different file under a taken name")
            let renamedPath = harness.configuration.inputDirectory + "/sub/dir/" + renamed.location.filename
            #expect(Self.holds(renamedPath, different))
            #expect(Self.files(in: harness.configuration.inputDirectory).allSatisfy { !$0.hasSuffix(".part") })
        }
    }

    @Test func refusalsLeaveNoFileBehind() async throws {
        try await MoleculeHarness.run { harness in
            let store = ImageStore(backend: harness.backend, configuration: harness.configuration, loop: harness.loop)
            let cases: [([[UInt8]], ErrorCode, Int)] = [
                (Self.form(file: Array("just some text, no image at all".utf8)), .unsupportedMediaType, 415),
                (Self.form(file: Self.png, fields: [("subfolder", "../escape")]), .fileOperationError, 400),
                (Self.form(file: Self.png, filename: "..\\\\evil.png"), .fileOperationError, 400),
                (Self.form(file: Self.png, fields: [("type", "output")]), .invalidRequest, 422),
                (Self.form(file: Self.png, fields: [("overwrite", "maybe")]), .invalidRequest, 422),
                (
                    [
                        Array(
                            "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
                                .utf8), Self.png,
                    ], .invalidRequest, 400
                ),
            ]
            for (chunks, code, status) in cases {
                let error = await MoleculeHarness.error { _ = try await Self.upload(store, chunks) }
                #expect(error?.code == code)
                #expect(error?.status == status)
            }
            let notMultipart = await MoleculeHarness.error {
                _ = try await store.upload(contentType: "application/json", base: "", body: { nil })
            }
            #expect(notMultipart?.code == .unsupportedMediaType)
            let leftovers = Self.files(in: harness.configuration.inputDirectory).filter { name in
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(
                    atPath: harness.configuration.inputDirectory + "/" + name, isDirectory: &isDirectory)
                return !isDirectory.boolValue
            }
            #expect(leftovers.isEmpty)
            #expect(Self.files(in: harness.emulator.rootPath + "/input").isEmpty)
        }
    }

    @Test func downloadsFillTheCacheAndKeepOneEntityTag() async throws {
        try await MoleculeHarness.run { harness in
            let store = ImageStore(backend: harness.backend, configuration: harness.configuration, loop: harness.loop)
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try FileManager.default.createDirectory(
                atPath: harness.emulator.rootPath + "/output/set", withIntermediateDirectories: true)
            let upstream = harness.emulator.rootPath + "/output/set/big.png"
            _ = FileManager.default.createFile(atPath: upstream, contents: Data(bytes))
            let location = FileLocation(filename: "big.png", subfolder: "set", type: .output)

            let first = try await Self.collect(try await store.download(location, ifNoneMatch: nil))
            let complete = first.bytes == bytes
            #expect(complete)
            #expect(first.content.length == bytes.count)
            #expect(first.content.contentType == "image/png")
            #expect(first.content.contentDisposition == "inline; filename=\"big.png\"")
            let cached = harness.configuration.outputDirectory + "/set/big.png"
            #expect(Self.holds(cached, bytes))

            try FileManager.default.removeItem(atPath: upstream)
            let second = try await Self.collect(try await store.download(location, ifNoneMatch: nil))
            let servedFromCache = second.bytes == bytes
            #expect(servedFromCache, "served from the cache once ComfyUI no longer has it")
            #expect(second.content.etag == first.content.etag)

            guard
                case .notModified(let etag, _) = try await store.download(
                    location, ifNoneMatch: "W/\"x\", \(first.content.etag)")
            else {
                Issue.record("a matching If-None-Match is not modified")
                return
            }
            #expect(etag == first.content.etag)
            let missing = await MoleculeHarness.error {
                _ = try await store.download(FileLocation(filename: "none.png"), ifNoneMatch: nil)
            }
            #expect(missing?.code == .imageNotFound)
            let unsafe = await MoleculeHarness.error {
                _ = try await store.download(FileLocation(filename: "x.png", subfolder: "/etc"), ifNoneMatch: nil)
            }
            #expect(unsafe?.code == .fileOperationError)
        }
    }

    @Test func symbolicLinksInTheDirectoriesAreNeverFollowed() async throws {
        try await MoleculeHarness.run { harness in
            let store = ImageStore(backend: harness.backend, configuration: harness.configuration, loop: harness.loop)
            let files = FileManager.default
            let outside = harness.configuration.outputDirectory + "-outside"
            defer { try? files.removeItem(atPath: outside) }
            try files.createDirectory(atPath: outside, withIntermediateDirectories: true)
            _ = files.createFile(atPath: outside + "/secret.png", contents: Data(Self.png))
            let output = harness.configuration.outputDirectory
            let input = harness.configuration.inputDirectory
            try files.createDirectory(atPath: output, withIntermediateDirectories: true)
            try files.createDirectory(atPath: input, withIntermediateDirectories: true)
            try files.createSymbolicLink(atPath: output + "/linked", withDestinationPath: outside)
            try files.createSymbolicLink(atPath: output + "/secret.png", withDestinationPath: outside + "/secret.png")
            try files.createSymbolicLink(atPath: input + "/linked", withDestinationPath: outside)

            for location in [
                FileLocation(filename: "secret.png", subfolder: "linked"), FileLocation(filename: "secret.png"),
            ] {
                let error = await MoleculeHarness.error { _ = try await store.download(location, ifNoneMatch: nil) }
                #expect(error?.code == .imageNotFound, "\(location) was not served through the link")
            }

            // A cache fill into a linked folder is skipped; the download itself still works.
            try files.createDirectory(
                atPath: harness.emulator.rootPath + "/output/linked", withIntermediateDirectories: true)
            _ = files.createFile(atPath: harness.emulator.rootPath + "/output/linked/new.png", contents: Data(Self.png))
            let fetched = try await Self.collect(
                try await store.download(FileLocation(filename: "new.png", subfolder: "linked"), ifNoneMatch: nil))
            #expect(fetched.bytes == Self.png)
            #expect(!files.fileExists(atPath: outside + "/new.png"))

            let upload = await MoleculeHarness.error {
                _ = try await Self.upload(store, Self.form(file: Self.png, fields: [("subfolder", "linked")]))
            }
            #expect(upload?.code == .fileOperationError)
            #expect(try files.contentsOfDirectory(atPath: outside) == ["secret.png"])
            #expect(Self.files(in: harness.emulator.rootPath + "/input").isEmpty, "refused before ComfyUI saw it")
        }
    }

    @Test func temporaryUploadsKeepTheirCopyApartFromInputs() async throws {
        try await MoleculeHarness.run { harness in
            let store = ImageStore(backend: harness.backend, configuration: harness.configuration, loop: harness.loop)
            let result = try await Self.upload(store, Self.form(file: Self.png, fields: [("type", "temp")]))
            #expect(result.location.type == .temp)
            #expect(Self.holds(harness.configuration.inputDirectory + "/.temp/in.png", Self.png))
            #expect(!FileManager.default.fileExists(atPath: harness.configuration.inputDirectory + "/in.png"))
        }
    }

    @Test func theEntityTagFollowsTheUpstreamFileNotJustItsName() async throws {
        try await MoleculeHarness.run { harness in
            let store = ImageStore(backend: harness.backend, configuration: harness.configuration, loop: harness.loop)
            let path = harness.emulator.rootPath + "/input/same.png"
            _ = FileManager.default.createFile(atPath: path, contents: Data(Self.png))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: path)
            let location = FileLocation(filename: "same.png", type: .input)
            let first = try await Self.collect(try await store.download(location, ifNoneMatch: nil))
            var replaced = Self.png
            replaced[200] ^= 0xFF
            _ = FileManager.default.createFile(atPath: path, contents: Data(replaced))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 2_000_000)], ofItemAtPath: path)
            guard case .content(let second) = try await store.download(location, ifNoneMatch: first.content.etag) else {
                Issue.record("a file replaced under the same name and size is not 'not modified'")
                return
            }
            #expect(second.etag != first.content.etag)
        }
    }

    static func collect(_ delivery: ImageDelivery) async throws -> (content: ImageContent, bytes: [UInt8]) {
        guard case .content(let content) = delivery else { throw GatewayError(.internalError, message: "not content") }
        let box = Box()
        try await content.body { chunk in box.bytes += chunk }
        return (content, box.bytes)
    }

    final class Box: @unchecked Sendable {
        var bytes: [UInt8] = []
    }
}
