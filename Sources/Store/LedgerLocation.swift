/// Where the ledger lives, from `LEDGER_URL`: `sqlite:<path>` (a file, created with its folder
/// when missing), `sqlite::memory:` (gone when the process ends), or `none` (no ledger).
package enum LedgerLocation: Sendable, Equatable {
    case sqliteFile(path: String)
    case sqliteMemory
    case none

    /// The location `url` names, or nil when it names none this gateway can open.
    package init?(url: String) {
        if url == "none" {
            self = .none
            return
        }
        guard url.hasPrefix("sqlite:") else { return nil }
        let path = String(url.dropFirst("sqlite:".count))
        if path == ":memory:" {
            self = .sqliteMemory
        } else if path.hasPrefix("//") {
            // sqlite:///absolute/path and sqlite://relative are spelled as URLs elsewhere.
            let rest = String(path.dropFirst(2))
            guard !rest.isEmpty else { return nil }
            self = .sqliteFile(path: rest)
        } else {
            guard !path.isEmpty else { return nil }
            self = .sqliteFile(path: path)
        }
    }

    /// How log lines name it.
    package var description: String {
        switch self {
        case .sqliteFile(let path): path
        case .sqliteMemory: "sqlite::memory:"
        case .none: "none"
        }
    }
}
