// Architecture rules for the ComfyGateway package.
//
// The manifest is obtained with `swift package dump-package` (run as a subprocess, with its own
// throw-away `--scratch-path`, because `swift test` holds the lock on `.build` and a plain
// `dump-package` would wait for that lock forever). The rules themselves live in the pure
// `ArchitectureRules` namespace below and are self-tested with fake graphs, so a broken checker
// cannot silently pass.

import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Model

/// One target of the package, reduced to what the rules need.
struct TargetInfo: Sendable, Hashable {
    /// Target name (decides the layer).
    var name: String
    /// `type` from `dump-package`: "regular", "executable", "test", "system", "macro", "plugin", "binary".
    var type: String
    /// Custom `path:` relative to the package root, or nil for the default location.
    var path: String?
    /// Names from `.byName` / `.target` dependencies. Product dependencies are omitted (always allowed);
    /// `byName` entries that are not targets of this package are treated as external products.
    var dependencies: [String]

    init(name: String, type: String = "regular", path: String? = nil, dependencies: [String] = []) {
        self.name = name
        self.type = type
        self.path = path
        self.dependencies = dependencies
    }
}

/// One `import X` found in a target's Swift sources.
struct ImportSite: Sendable, Hashable, CustomStringConvertible {
    /// Target whose sources contain the import.
    var target: String
    /// Imported top-level module (`import struct X.Y` yields `X`).
    var module: String
    /// File path, relative to the package root.
    var file: String
    /// 1-based line number.
    var line: Int

    var description: String { "\(file):\(line)" }
}

/// A broken rule, with a message that names the offending edge / file / line.
struct Violation: Sendable, Hashable, CustomStringConvertible {
    enum Rule: String, Sendable, Hashable, CaseIterable {
        /// A non-exempt target whose name does not map to any layer.
        case unclassifiedTarget
        /// A declared edge the layer table does not allow (and no more specific rule covers).
        case layerTable
        /// Atom* -> Atom* or Molecule* -> Molecule*.
        case sameLayerEdge
        /// An infrastructure target (CLibUV, Reactor, Codecs, Routing, Client) depends on a Comfy layer.
        case infrastructureDependsOnComfy
        /// Some target other than Reactor depends on a C module (CLibUV, CSQLite).
        case cLibUVOutsideReactor
        /// `import X` of one of our targets without a declared direct dependency on X.
        case undeclaredImport
        /// An unsafe-pointer / Unmanaged / OpaquePointer word outside Reactor's C bindings.
        case unsafeOutsideReactorUV
    }

    var rule: Rule
    var message: String

    var description: String { "[\(rule.rawValue)] \(message)" }
}

/// Architectural layer of a target.
enum Layer: String, Sendable, Hashable {
    // infrastructure
    case cLibUV = "CLibUV"
    case cSQLite = "CSQLite"
    case reactor = "Reactor"
    case codecs = "Codecs"
    case routing = "Routing"
    case client = "Client"
    /// The job store: below the ComfyUI layers, above the infrastructure and Models.
    case store = "Store"
    // base
    case models = "Models"
    case core = "Core"
    // Comfy layers
    case atom = "Atom* (L4)"
    case molecule = "Molecule* (L3)"
    case coordinators = "Coordinators (L2)"
    case entry = "Entry (L1)"
    // executable
    case gateway = "ComfyGateway"
    // test targets and test-support targets under Tests/
    case exempt = "exempt (test)"
    case unclassified = "unclassified"

    var isInfrastructure: Bool {
        switch self {
        case .cLibUV, .cSQLite, .reactor, .codecs, .routing, .client: true
        default: false
        }
    }

    /// A C library wrapped by a system-library target: only Reactor may depend on one.
    var isCModule: Bool { self == .cLibUV || self == .cSQLite }

    var isComfy: Bool {
        switch self {
        case .atom, .molecule, .coordinators, .entry: true
        default: false
        }
    }
}

// MARK: - Pure rule checking

enum ArchitectureRules {
    /// Directories (relative to the package root, with trailing slash) where unsafe APIs are
    /// allowed: Reactor's bindings of libuv and of SQLite.
    static let unsafeAllowedDirectories = ["Sources/Reactor/UV/", "Sources/Reactor/SQLite/"]

    /// Directories (relative to the package root) scanned for unsafe APIs.
    static let unsafeScannedDirectories = ["Sources", "Modules"]

    /// Identifiers that may appear only under `unsafeAllowedDirectories`.
    static let unsafeWords: Set<String> = [
        "UnsafeMutablePointer", "UnsafePointer", "UnsafeRawPointer", "UnsafeMutableRawPointer",
        "UnsafeBufferPointer", "UnsafeMutableBufferPointer", "UnsafeRawBufferPointer",
        "UnsafeMutableRawBufferPointer", "Unmanaged", "OpaquePointer",
    ]

    /// What each layer may depend on (targets of this package only; products are always allowed).
    static let allowedDependencies: [Layer: Set<Layer>] = [
        .cLibUV: [],
        .cSQLite: [],
        .reactor: [.cLibUV, .cSQLite],
        .codecs: [],
        .routing: [.reactor, .codecs],
        .client: [.reactor, .codecs],
        .models: [.codecs],
        .core: [.codecs],
        .store: [.reactor, .codecs, .models],
        // Every ComfyUI layer may use the infrastructure's own types (the event loop, timers, byte
        // buffers) under their own names; only the layers between them are strict.
        .atom: [.client, .reactor, .codecs, .models, .core],
        .molecule: [.atom, .store, .reactor, .codecs, .models, .core],
        .coordinators: [.molecule, .reactor, .codecs, .models, .core],
        .entry: [.coordinators, .routing, .reactor, .codecs, .models, .core],
        .gateway: [.entry, .reactor, .codecs, .core],
    ]

    /// Layer of a target: test targets and anything whose path starts with `Tests/` are exempt,
    /// everything else is decided by the name.
    static func layer(of target: TargetInfo) -> Layer {
        if target.type == "test" { return .exempt }
        if let path = target.path {
            var normalized = path
            while normalized.hasPrefix("./") { normalized.removeFirst(2) }
            if normalized == "Tests" || normalized.hasPrefix("Tests/") { return .exempt }
        }
        switch target.name {
        case "CLibUV": return .cLibUV
        case "CSQLite": return .cSQLite
        case "Store": return .store
        case "Reactor": return .reactor
        case "Codecs": return .codecs
        case "Routing": return .routing
        case "Client": return .client
        case "Models": return .models
        case "Core": return .core
        case "Coordinators": return .coordinators
        case "Entry": return .entry
        case "ComfyGateway": return .gateway
        default: break
        }
        if target.name.hasPrefix("Atom"), target.name.count > 4 { return .atom }
        if target.name.hasPrefix("Molecule"), target.name.count > 8 { return .molecule }
        return .unclassified
    }

    /// Checks the declared graph and the imports; returns every violation (empty when clean).
    ///
    /// Each offending declared edge is reported once, under its most specific rule:
    /// `cLibUVOutsideReactor`, then `infrastructureDependsOnComfy`, then `sameLayerEdge`, then `layerTable`.
    /// Every import of one of our targets that is not a declared direct dependency is reported as
    /// `undeclaredImport` (for all targets, including test targets).
    static func check(targets: [TargetInfo], imports: [ImportSite]) -> [Violation] {
        var violations: [Violation] = []
        var byName: [String: TargetInfo] = [:]
        for target in targets { byName[target.name] = target }

        for target in targets {
            let fromLayer = layer(of: target)
            if fromLayer == .exempt { continue }
            if fromLayer == .unclassified {
                violations.append(
                    Violation(
                        rule: .unclassifiedTarget,
                        message: "target '\(target.name)' (type \(target.type)) belongs to no layer; "
                            + "rename it (Atom*/Molecule*/...) or teach ArchitectureRules.layer(of:) about it"))
                continue
            }
            var seen: Set<String> = []
            for dependencyName in target.dependencies where seen.insert(dependencyName).inserted {
                guard let dependency = byName[dependencyName] else { continue }  // external product
                let toLayer = layer(of: dependency)
                if let rule = edgeViolation(from: fromLayer, to: toLayer) {
                    violations.append(
                        Violation(
                            rule: rule,
                            message: "declared dependency \(target.name) -> \(dependency.name) "
                                + "(\(fromLayer.rawValue) -> \(toLayer.rawValue)): \(explanation(rule, from: fromLayer))"
                        ))
                }
            }
        }

        for site in imports {
            guard site.module != site.target, byName[site.module] != nil,
                let importer = byName[site.target]
            else { continue }
            if !importer.dependencies.contains(site.module) {
                violations.append(
                    Violation(
                        rule: .undeclaredImport,
                        message: "\(site.file):\(site.line): target '\(site.target)' imports '\(site.module)' "
                            + "but does not declare it as a direct dependency in Package.swift"))
            }
        }
        return violations
    }

    /// The rule a declared edge breaks, or nil when the edge is allowed.
    static func edgeViolation(from: Layer, to: Layer) -> Violation.Rule? {
        if to.isCModule, from != .reactor { return .cLibUVOutsideReactor }
        if from.isInfrastructure, to.isComfy { return .infrastructureDependsOnComfy }
        if from == to, from == .atom || from == .molecule { return .sameLayerEdge }
        if allowedDependencies[from, default: []].contains(to) { return nil }
        return .layerTable
    }

    private static func explanation(_ rule: Violation.Rule, from: Layer) -> String {
        switch rule {
        case .cLibUVOutsideReactor: return "only Reactor may depend on a C module (CLibUV, CSQLite)"
        case .infrastructureDependsOnComfy: return "infrastructure must never depend on a Comfy layer"
        case .sameLayerEdge: return "no edges inside the \(from.rawValue) layer"
        default:
            let allowed = allowedDependencies[from, default: []].map(\.rawValue).sorted()
            return "\(from.rawValue) may only depend on "
                + (allowed.isEmpty ? "nothing of ours" : allowed.joined(separator: ", "))
        }
    }

    /// Unsafe-API violations in the given files (paths relative to the package root).
    static func unsafeViolations(files: [(path: String, contents: String)]) -> [Violation] {
        var violations: [Violation] = []
        for file in files where !unsafeAllowedDirectories.contains(where: file.path.hasPrefix) {
            for usage in unsafeUsages(in: file.contents) {
                violations.append(
                    Violation(
                        rule: .unsafeOutsideReactorUV,
                        message: "\(file.path):\(usage.line): '\(usage.word)' is only allowed under "
                            + unsafeAllowedDirectories.joined(separator: " or ")))
            }
        }
        return violations
    }

    /// Unsafe words used in code (comments and string literals are ignored).
    static func unsafeUsages(in source: String) -> [(word: String, line: Int)] {
        var usages: [(word: String, line: Int)] = []
        for (index, line) in lines(of: codeOnly(source)).enumerated() {
            let words = line.split { !($0.isLetter || $0.isNumber || $0 == "_") }
            for word in words where unsafeWords.contains(String(word)) {
                usages.append((String(word), index + 1))
            }
        }
        return usages
    }

    /// Lines of `text` (LF, CRLF or CR separated), so that index + 1 is the line number.
    static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }

    // MARK: Import parsing

    private static let importModifiers: Set<String> = [
        "public", "package", "internal", "private", "fileprivate", "open",
    ]
    private static let importKinds: Set<String> = [
        "struct", "class", "enum", "protocol", "typealias", "func", "var", "let", "actor",
    ]

    /// Top-level modules imported by `source`, with 1-based line numbers. Understands attributes
    /// (`@preconcurrency`, `@testable`, `@_spi(Y)`, `@_implementationOnly`, ...), access modifiers,
    /// `import struct X.Y` and submodules; ignores comments and string literals.
    static func imports(in source: String) -> [(module: String, line: Int)] {
        var result: [(module: String, line: Int)] = []
        for (index, line) in lines(of: codeOnly(source)).enumerated() {
            for statement in line.split(separator: ";") {
                if let module = importedModule(onLine: statement) {
                    result.append((module, index + 1))
                }
            }
        }
        return result
    }

    /// The module imported by a single (already comment/string-free) line, if it is an import.
    static func importedModule(onLine line: Substring) -> String? {
        var rest = line.drop(while: \.isWhitespace)
        // Attributes: @name or @name(...)
        while rest.first == "@" {
            rest = rest.dropFirst().drop { $0.isLetter || $0.isNumber || $0 == "_" }
            rest = rest.drop(while: \.isWhitespace)
            if rest.first == "(" {
                var depth = 0
                var index = rest.startIndex
                while index < rest.endIndex {
                    if rest[index] == "(" { depth += 1 }
                    if rest[index] == ")" { depth -= 1; if depth == 0 { break } }
                    index = rest.index(after: index)
                }
                guard index < rest.endIndex else { return nil }
                rest = rest[rest.index(after: index)...]
            }
            rest = rest.drop(while: \.isWhitespace)
        }
        var words = rest.split(whereSeparator: \.isWhitespace).makeIterator()
        var word = words.next()
        while let current = word, importModifiers.contains(String(current)) { word = words.next() }
        guard word == "import", var path = words.next() else { return nil }
        if importKinds.contains(String(path)) {
            guard let next = words.next() else { return nil }
            path = next
        }
        let first = path.prefix { $0 != "." && $0 != ";" }
        let module = String(first.filter { $0 != "`" })
        guard let head = module.first, head.isLetter || head == "_",
            module.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { return nil }
        return module
    }

    /// `source` with comments and string-literal contents replaced by spaces (newlines kept, so line
    /// numbers stay valid). Handles nested block comments, raw strings (`#"..."#`), multi-line strings
    /// and interpolation `\( ... )` (whose code is kept).
    static func codeOnly(_ source: String) -> String {
        enum Context {
            case code(parens: Int)
            case string(hashes: Int, multiline: Bool)
            case blockComment(depth: Int)
        }
        let scalars = Array(source.unicodeScalars)
        let count = scalars.count
        var output = String.UnicodeScalarView()
        output.reserveCapacity(count)
        var stack: [Context] = [.code(parens: 0)]
        var index = 0

        func at(_ offset: Int) -> Unicode.Scalar? {
            index + offset < count ? scalars[index + offset] : nil
        }
        func blank(_ length: Int) {
            for offset in 0..<length where index + offset < count {
                output.append(scalars[index + offset] == "\n" ? "\n" : " ")
            }
            index += length
        }
        func hashes(from start: Int) -> Int {
            var number = 0
            while start + number < count, scalars[start + number] == "#" { number += 1 }
            return number
        }

        while index < count {
            let scalar = scalars[index]
            switch stack[stack.count - 1] {
            case .code(let parens):
                if scalar == "/", at(1) == "/" {
                    while index < count, scalars[index] != "\n" { blank(1) }
                } else if scalar == "/", at(1) == "*" {
                    stack.append(.blockComment(depth: 1))
                    blank(2)
                } else if scalar == "#" || scalar == "\"" {
                    let hashCount = hashes(from: index)
                    if index + hashCount < count, scalars[index + hashCount] == "\"" {
                        let quoteStart = index + hashCount
                        let multiline =
                            quoteStart + 2 < count
                            && scalars[quoteStart + 1] == "\"" && scalars[quoteStart + 2] == "\""
                        stack.append(.string(hashes: hashCount, multiline: multiline))
                        blank(hashCount + (multiline ? 3 : 1))
                    } else {
                        output.append(scalar)
                        index += 1
                    }
                } else if scalar == "(" {
                    stack[stack.count - 1] = .code(parens: parens + 1)
                    output.append(scalar)
                    index += 1
                } else if scalar == ")" {
                    if parens == 0, stack.count > 1 {
                        stack.removeLast()  // end of an interpolation
                        blank(1)
                    } else {
                        stack[stack.count - 1] = .code(parens: max(0, parens - 1))
                        output.append(scalar)
                        index += 1
                    }
                } else {
                    output.append(scalar)
                    index += 1
                }
            case .blockComment(let depth):
                if scalar == "/", at(1) == "*" {
                    stack[stack.count - 1] = .blockComment(depth: depth + 1)
                    blank(2)
                } else if scalar == "*", at(1) == "/" {
                    if depth == 1 {
                        stack.removeLast()
                    } else {
                        stack[stack.count - 1] = .blockComment(depth: depth - 1)
                    }
                    blank(2)
                } else {
                    blank(1)
                }
            case .string(let hashCount, let multiline):
                if scalar == "\\", hashes(from: index + 1) >= hashCount {
                    let afterHashes = index + 1 + hashCount
                    if afterHashes < count, scalars[afterHashes] == "(" {
                        blank(hashCount + 2)
                        stack.append(.code(parens: 0))  // interpolation: its contents are code
                    } else {
                        blank(hashCount + 2)  // escape sequence
                    }
                } else if scalar == "\"" {
                    let quotes = multiline ? 3 : 1
                    let closes =
                        (0..<quotes).allSatisfy { at($0) == "\"" }
                        && hashes(from: index + quotes) >= hashCount
                    if closes {
                        stack.removeLast()
                        blank(quotes + hashCount)
                    } else {
                        blank(1)
                    }
                } else if scalar == "\n", !multiline {
                    stack.removeLast()  // unterminated single-line string: recover at end of line
                    blank(1)
                } else {
                    blank(1)
                }
            }
        }
        return String(output)
    }
}

// MARK: - Package loading (manifest via `swift package dump-package`, sources from disk)

struct ArchitectureTestError: Error, CustomStringConvertible {
    var description: String
}

struct PackageSnapshot: Sendable {
    var root: URL
    var targets: [TargetInfo]
    var imports: [ImportSite]
}

enum PackageLoader {
    /// Seconds after which `swift package dump-package` is killed and the tests fail.
    static let dumpPackageTimeout: Duration = .seconds(60)

    /// Package root: two levels up from Tests/ArchitectureTests/.
    static func packageRoot() -> URL {
        URL(fileURLWithPath: #filePath)  // <root>/Tests/ArchitectureTests/ArchitectureTests.swift
            .deletingLastPathComponent()  // Tests/ArchitectureTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // root
    }

    static func load() async throws -> PackageSnapshot {
        let root = packageRoot()
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) else {
            throw ArchitectureTestError(description: "no Package.swift at \(root.path) (derived from #filePath)")
        }
        let json = try await dumpPackage(root: root)
        let manifest: DumpedPackage
        do {
            manifest = try JSONDecoder().decode(DumpedPackage.self, from: json)
        } catch {
            let head = String(decoding: json.prefix(400), as: UTF8.self)
            throw ArchitectureTestError(description: "cannot decode dump-package output: \(error)\n\(head)")
        }
        let targets = manifest.targets.map { target in
            TargetInfo(
                name: target.name, type: target.type, path: target.path,
                dependencies: target.dependencies.compactMap { $0.kind == "product" ? nil : $0.name })
        }
        var imports: [ImportSite] = []
        for target in manifest.targets {
            for file in swiftFiles(of: target, root: root) {
                let source = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
                for found in ArchitectureRules.imports(in: source) {
                    imports.append(ImportSite(target: target.name, module: found.module, file: file, line: found.line))
                }
            }
        }
        return PackageSnapshot(root: root, targets: targets, imports: imports)
    }

    /// Runs `swift package dump-package` in `root` with a private scratch path (so it never waits for
    /// the `.build` lock that the running `swift test` holds), killing it after `dumpPackageTimeout`.
    static func dumpPackage(root: URL) async throws -> Data {
        let fileManager = FileManager.default
        let workDirectory = fileManager.temporaryDirectory
            .appendingPathComponent("architecture-tests-\(UUID().uuidString)", isDirectory: true)
        let scratch = workDirectory.appendingPathComponent("scratch", isDirectory: true)
        try fileManager.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: workDirectory) }

        // Output goes to files, not pipes: no pipe-buffer deadlock however large the manifest is.
        let stdoutURL = workDirectory.appendingPathComponent("stdout.json")
        let stderrURL = workDirectory.appendingPathComponent("stderr.txt")
        _ = fileManager.createFile(atPath: stdoutURL.path, contents: nil)
        _ = fileManager.createFile(atPath: stderrURL.path, contents: nil)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdoutHandle.close()
            try? stderrHandle.close()
        }

        let (executable, prefixArguments) = swiftCommand()
        let process = Process()
        process.executableURL = executable
        process.arguments =
            prefixArguments + [
                "package", "--package-path", root.path, "--scratch-path", scratch.path, "dump-package",
            ]
        process.currentDirectoryURL = root
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        let commandLine = ([executable.path] + (process.arguments ?? [])).joined(separator: " ")
        do {
            try process.run()
        } catch {
            throw ArchitectureTestError(description: "cannot launch `\(commandLine)`: \(error)")
        }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: dumpPackageTimeout)
        while process.isRunning {
            if clock.now >= deadline || Task.isCancelled {
                await stop(process)
                let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
                throw ArchitectureTestError(
                    description: "`\(commandLine)` did not finish within \(dumpPackageTimeout) "
                        + "(is it waiting for a SwiftPM lock?) and was killed. stderr:\n\(stderr)")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        process.waitUntilExit()

        let output = try Data(contentsOf: stdoutURL)
        guard process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            throw ArchitectureTestError(
                description: "`\(commandLine)` exited with status \(process.terminationStatus):\n\(stderr)")
        }
        // Tolerate anything printed before the JSON object.
        guard let start = output.firstIndex(of: UInt8(ascii: "{")) else {
            throw ArchitectureTestError(description: "`\(commandLine)` printed no JSON")
        }
        return Data(output[start...])
    }

    /// SIGTERM, then SIGKILL after a second: the child inherits the test runner's signal mask, in
    /// which SIGTERM may be blocked (observed on Linux), so `terminate()` alone can leave it running.
    static func stop(_ process: Process) async {
        process.terminate()
        let graceDeadline = ContinuousClock.now.advanced(by: .seconds(1))
        while process.isRunning, ContinuousClock.now < graceDeadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
            if process.isRunning {
                _ = kill(process.processIdentifier, SIGKILL)
            }
        #endif
    }

    /// `swift` to run: $ARCHITECTURE_TESTS_SWIFT, else the `swift` the shell launched (`$_`),
    /// else `swift` from $PATH via /usr/bin/env.
    static func swiftCommand() -> (URL, [String]) {
        let environment = ProcessInfo.processInfo.environment
        let fileManager = FileManager.default
        if let override = environment["ARCHITECTURE_TESTS_SWIFT"], !override.isEmpty {
            return (URL(fileURLWithPath: override), [])
        }
        if let launched = environment["_"], launched.hasSuffix("/swift"), fileManager.isExecutableFile(atPath: launched)
        {
            return (URL(fileURLWithPath: launched), [])
        }
        return (URL(fileURLWithPath: "/usr/bin/env"), ["swift"])
    }

    /// Swift files (relative to root) compiled into `target`, honouring `path`, `sources` and `exclude`.
    static func swiftFiles(of target: DumpedTarget, root: URL) -> [String] {
        let fileManager = FileManager.default
        let targetPath: String
        if let path = target.path {
            targetPath = path
        } else {
            let parents: [String] =
                switch target.type {
                case "test": ["Tests"]
                case "plugin": ["Plugins"]
                default: ["Sources", "Source", "src", "srcs"]
                }
            guard
                let parent = parents.first(where: { parent in
                    fileManager.fileExists(
                        atPath: root.appendingPathComponent(parent).appendingPathComponent(target.name).path)
                })
            else { return [] }
            targetPath = "\(parent)/\(target.name)"
        }
        let included = (target.sources ?? [""]).map { normalize("\(targetPath)/\($0)") }
        let excluded = (target.exclude ?? []).map { normalize("\(targetPath)/\($0)") }
        func isUnder(_ file: String, _ prefix: String) -> Bool {
            file == prefix || file.hasPrefix(prefix + "/")
        }
        return swiftFiles(under: normalize(targetPath), root: root).filter { file in
            included.contains { isUnder(file, $0) } && !excluded.contains { isUnder(file, $0) }
        }
    }

    /// All `.swift` files below `directory` (relative to root), as sorted root-relative paths.
    static func swiftFiles(under directory: String, root: URL) -> [String] {
        let base = root.appendingPathComponent(directory)
        guard let enumerator = FileManager.default.enumerator(atPath: base.path) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".swift") { files.append(normalize("\(directory)/\(relative)")) }
        }
        return files.sorted()
    }

    private static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." && !part.isEmpty { parts.append(part) }
        return parts.joined(separator: "/")
    }
}

/// The subset of `swift package dump-package` output the tests read.
struct DumpedPackage: Decodable {
    var targets: [DumpedTarget]
}

struct DumpedTarget: Decodable {
    var name: String
    var type: String
    var path: String?
    var sources: [String]?
    var exclude: [String]?
    var dependencies: [DumpedDependency]
}

/// `{"byName":["X",null]}`, `{"target":["X",null]}` or `{"product":["Name","package",null,null]}`.
struct DumpedDependency: Decodable {
    var kind: String
    var name: String

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        guard let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "empty dependency"))
        }
        var values = try container.nestedUnkeyedContainer(forKey: key)
        kind = key.stringValue
        name = try values.decode(String.self)
    }
}

// MARK: - Tests

struct ArchitectureTests {
    /// Loaded once and shared by all tests (one `dump-package` run per test process).
    static let snapshot = Task { try await PackageLoader.load() }

    private func violations(_ rule: Violation.Rule) async throws -> [Violation] {
        let package = try await Self.snapshot.value
        return ArchitectureRules.check(targets: package.targets, imports: package.imports).filter { $0.rule == rule }
    }

    private func report(_ violations: [Violation]) {
        for violation in violations { Issue.record(Comment(rawValue: violation.description)) }
    }

    @Test func manifestIsReadable() async throws {
        let package = try await Self.snapshot.value
        #expect(!package.targets.isEmpty, "dump-package returned no targets")
    }

    @Test func everyTargetBelongsToALayer() async throws {
        report(try await violations(.unclassifiedTarget))
    }

    @Test func declaredDependenciesFollowTheLayerTable() async throws {
        report(try await violations(.layerTable))
    }

    @Test func noAtomToAtomOrMoleculeToMoleculeEdges() async throws {
        report(try await violations(.sameLayerEdge))
    }

    @Test func infrastructureNeverDependsOnComfyLayers() async throws {
        report(try await violations(.infrastructureDependsOnComfy))
    }

    @Test func onlyReactorDependsOnCLibUV() async throws {
        report(try await violations(.cLibUVOutsideReactor))
    }

    @Test func everyImportedTargetIsADeclaredDirectDependency() async throws {
        report(try await violations(.undeclaredImport))
    }

    @Test func unsafePointersOnlyInReactorUV() async throws {
        let root = PackageLoader.packageRoot()
        var files: [(path: String, contents: String)] = []
        for directory in ArchitectureRules.unsafeScannedDirectories {
            for file in PackageLoader.swiftFiles(under: directory, root: root) {
                files.append((file, try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)))
            }
        }
        report(ArchitectureRules.unsafeViolations(files: files))
    }
}

// MARK: - Self-tests of the checker (prove it can fail)

struct ArchitectureRulesSelfTests {
    static let cleanTargets: [TargetInfo] = [
        TargetInfo(name: "CLibUV", type: "system", path: "Modules/CLibUV"),
        TargetInfo(name: "Reactor", dependencies: ["CLibUV"]),
        TargetInfo(name: "Codecs", dependencies: ["NIOCore"]),  // external product by name
        TargetInfo(name: "Routing", dependencies: ["Reactor", "Codecs"]),
        TargetInfo(name: "Client", dependencies: ["Reactor", "Codecs"]),
        TargetInfo(name: "Models"),
        TargetInfo(name: "Core"),
        TargetInfo(name: "AtomX", dependencies: ["Client", "Reactor", "Codecs", "Models", "Core"]),
        TargetInfo(name: "AtomY", dependencies: ["Models", "Core"]),
        TargetInfo(name: "MoleculeA", dependencies: ["AtomX", "AtomY", "Models", "Core"]),
        TargetInfo(name: "MoleculeB", dependencies: ["AtomY", "Core"]),
        TargetInfo(name: "Coordinators", dependencies: ["MoleculeA", "MoleculeB", "Models", "Core"]),
        TargetInfo(name: "Entry", dependencies: ["Coordinators", "Routing", "Models", "Core"]),
        TargetInfo(name: "ComfyGateway", type: "executable", dependencies: ["Entry", "Reactor", "Core"]),
        TargetInfo(name: "TestSupport", path: "Tests/TestSupport", dependencies: ["AtomX", "CLibUV", "Entry"]),
        TargetInfo(name: "EntryTests", type: "test", dependencies: ["Entry", "TestSupport", "CLibUV"]),
    ]

    static let cleanImports: [ImportSite] = [
        ImportSite(target: "Reactor", module: "CLibUV", file: "Sources/Reactor/UV/Loop.swift", line: 1),
        ImportSite(target: "MoleculeA", module: "AtomX", file: "Sources/MoleculeA/A.swift", line: 1),
        ImportSite(target: "MoleculeA", module: "Foundation", file: "Sources/MoleculeA/A.swift", line: 2),
        ImportSite(target: "Entry", module: "Routing", file: "Sources/Entry/E.swift", line: 3),
        ImportSite(target: "EntryTests", module: "Entry", file: "Tests/EntryTests/T.swift", line: 1),
    ]

    static func replacing(_ name: String, with dependencies: [String], in targets: [TargetInfo]) -> [TargetInfo] {
        targets.map {
            $0.name == name ? TargetInfo(name: $0.name, type: $0.type, path: $0.path, dependencies: dependencies) : $0
        }
    }

    @Test func cleanGraphHasNoViolations() {
        let found = ArchitectureRules.check(targets: Self.cleanTargets, imports: Self.cleanImports)
        #expect(found.isEmpty, "unexpected: \(found)")
    }

    @Test func badGraphReportsEveryViolation() {
        var targets = Self.cleanTargets
        targets = Self.replacing("MoleculeB", with: ["MoleculeA", "Core"], in: targets)  // Molecule -> Molecule
        targets = Self.replacing("Coordinators", with: ["MoleculeA", "AtomX"], in: targets)  // L2 -> L4
        targets = Self.replacing("Routing", with: ["Reactor", "Codecs", "CLibUV"], in: targets)  // CLibUV
        targets = Self.replacing("Codecs", with: ["AtomX"], in: targets)  // infra -> Comfy
        targets = Self.replacing("AtomY", with: ["AtomX", "Core"], in: targets)  // Atom -> Atom
        targets.append(TargetInfo(name: "Utilities"))  // no layer
        let imports =
            Self.cleanImports + [
                // Entry -> Core is declared, Entry -> Reactor is not (only transitively reachable).
                ImportSite(target: "Entry", module: "Reactor", file: "Sources/Entry/Boot.swift", line: 7),
                ImportSite(target: "Entry", module: "Core", file: "Sources/Entry/Boot.swift", line: 8),
            ]
        let found = ArchitectureRules.check(targets: targets, imports: imports)
        let expected: [(Violation.Rule, String)] = [
            (.sameLayerEdge, "MoleculeB -> MoleculeA"),
            (.sameLayerEdge, "AtomY -> AtomX"),
            (.layerTable, "Coordinators -> AtomX"),
            (.cLibUVOutsideReactor, "Routing -> CLibUV"),
            (.infrastructureDependsOnComfy, "Codecs -> AtomX"),
            (.undeclaredImport, "Sources/Entry/Boot.swift:7: target 'Entry' imports 'Reactor'"),
            (.unclassifiedTarget, "'Utilities'"),
        ]
        for (rule, fragment) in expected {
            #expect(
                found.contains { $0.rule == rule && $0.message.contains(fragment) },
                "expected \(rule) mentioning \"\(fragment)\" in \(found)")
        }
        #expect(found.count == expected.count, "each bad edge is reported exactly once: \(found)")
    }

    @Test(arguments: [
        ("Entry", "Client", Violation.Rule.layerTable),
        ("MoleculeA", "Routing", .layerTable),
        ("Entry", "AtomX", .layerTable),
        ("ComfyGateway", "Coordinators", .layerTable),
        ("Molecule", "Client", .unclassifiedTarget),
        ("MoleculeA", "Client", .layerTable),
        ("AtomX", "Routing", .layerTable),
        ("AtomX", "CLibUV", .cLibUVOutsideReactor),
        ("Models", "Core", .layerTable),
        ("Core", "TestSupport", .layerTable),
        ("Reactor", "Entry", .infrastructureDependsOnComfy),
        ("Client", "MoleculeA", .infrastructureDependsOnComfy),
        ("Client", "Routing", .layerTable),
    ])
    func singleBadEdgeIsReported(from: String, to: String, rule: Violation.Rule) {
        var targets = Self.cleanTargets
        if !targets.contains(where: { $0.name == from }) { targets.append(TargetInfo(name: from)) }
        let existing = targets.first { $0.name == from }?.dependencies ?? []
        targets = Self.replacing(from, with: existing + [to], in: targets)
        let found = ArchitectureRules.check(targets: targets, imports: Self.cleanImports)
        #expect(found.map(\.rule) == [rule], "\(from) -> \(to): \(found)")
    }

    @Test func undeclaredImportInTestTargetIsReported() {
        let imports = [
            ImportSite(target: "EntryTests", module: "Coordinators", file: "Tests/EntryTests/T.swift", line: 4)
        ]
        let found = ArchitectureRules.check(targets: Self.cleanTargets, imports: imports)
        #expect(found.map(\.rule) == [.undeclaredImport])
        #expect(found.first?.message.contains("Tests/EntryTests/T.swift:4") == true)
    }

    @Test func layersAreDecidedByNameAndPath() {
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "AtomComfyHTTP")) == .atom)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "MoleculeQueue")) == .molecule)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "CLibUV", type: "system")) == .cLibUV)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "AtomFake", path: "Tests/Fakes")) == .exempt)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "AtomFake", path: "./Tests/Fakes")) == .exempt)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "EntryTests", type: "test")) == .exempt)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "Atom")) == .unclassified)
        #expect(ArchitectureRules.layer(of: TargetInfo(name: "Helpers")) == .unclassified)
    }

    @Test func importParsing() {
        let source = ##"""
            import A
            @preconcurrency import B
            public import C
            package import D
            private import E
            internal import F
            @_spi(Y) import G
            import struct H.Thing
            @testable import I
            @_spi(Z) @preconcurrency public import J.Sub
            @_implementationOnly import K; import K2
              import `L`
            fileprivate import class M.N
            // import NotInLineComment
            /* import NotInBlock
               import NotInBlock2 /* nested */ import NotInBlock3
            */ import O
            let s = "import NotInString"
            let t = """
            import NotInMultiline
            \(foo("x")) import NotInMultiline2
            """
            let u = #"import NotInRaw \#(bar) "# ; let v = 1
            importantThing()
            let importer = 1
            #if canImport(NotAnImport)
            #endif
            """##
        let found = ArchitectureRules.imports(in: source)
        #expect(found.map(\.module) == ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "K2", "L", "M", "O"])
        #expect(found.first { $0.module == "O" }?.line == 17)
        #expect(found.first { $0.module == "M" }?.line == 13)
    }

    @Test func codeOnlyKeepsLinesAndInterpolatedCode() {
        let source =
            "let a = \"x\\(Unmanaged<Foo>.self)y\" // UnsafePointer\n/* OpaquePointer */ let b = UnsafeRawPointer(bitPattern: 1)\n"
        let code = ArchitectureRules.codeOnly(source)
        #expect(code.split(separator: "\n", omittingEmptySubsequences: false).count == 3)
        #expect(ArchitectureRules.unsafeUsages(in: source).map(\.word) == ["Unmanaged", "UnsafeRawPointer"])
        #expect(ArchitectureRules.unsafeUsages(in: source).map(\.line) == [1, 2])
    }

    static let allowed = "Sources/Reactor/UV/ or Sources/Reactor/SQLite/"

    @Test func unsafeWordsOnlyAllowedUnderReactorsBindings() {
        let files: [(path: String, contents: String)] = [
            ("Sources/Reactor/UV/Loop.swift", "let p: UnsafeMutablePointer<Int>? = nil"),
            ("Sources/Reactor/SQLite/Connection.swift", "var handle: OpaquePointer?"),
            ("Sources/Reactor/Reactor.swift", "let p: OpaquePointer? = nil\n// UnsafePointer in a comment is fine"),
            ("Modules/Shim/Shim.swift", "\n\nfunc f(_ b: UnsafeMutableRawBufferPointer) {}"),
            ("Sources/Core/Names.swift", "struct UnsafePointerFree {}; let withUnmanagedName = 1"),
            ("Sources/Reactor/UVExtras/X.swift", "let u = Unmanaged<AnyObject>.self"),
        ]
        let found = ArchitectureRules.unsafeViolations(files: files)
        #expect(
            found.map(\.message) == [
                "Sources/Reactor/Reactor.swift:1: 'OpaquePointer' is only allowed under \(Self.allowed)",
                "Modules/Shim/Shim.swift:3: 'UnsafeMutableRawBufferPointer' is only allowed under \(Self.allowed)",
                "Sources/Reactor/UVExtras/X.swift:1: 'Unmanaged' is only allowed under \(Self.allowed)",
            ])
    }
}
