import Codecs
package import Models

/// Checks of the file names and subfolders clients give, before any I/O: a name is one path
/// component; a subfolder is zero or more components separated by `/`. Refused with a 400
/// `FILE_OPERATION_ERROR`: `.` and `..` components, absolute paths, backslashes, NUL and other
/// control characters, empty components, names longer than a file system allows, hidden
/// subfolders (a component starting with `.`: the gateway keeps its own files there), and file
/// names ending in ComfyUI's folder annotations (`[input]`, `[output]`, `[temp]`, with or without
/// a space before), with which its `/view` would serve a file from another folder than the `type`
/// asked for.
package enum SafeName {
    /// Checks a file name.
    package static func checkFilename(_ name: String, field: String = "filename") throws(GatewayError) {
        guard !name.isEmpty else { throw refusal(field, name, "must not be empty") }
        guard !name.contains("/") else { throw refusal(field, name, "must not contain '/'") }
        try checkComponent(name, field: field, value: name)
        // ComfyUI strips the annotation whether or not a space precedes it.
        for annotation in ["[input]", "[output]", "[temp]"] where name.hasSuffix(annotation) {
            throw refusal(field, name, "must not end in ComfyUI's folder annotation '\(annotation)'")
        }
    }

    /// Checks a subfolder (`""` for none) and returns its components.
    @discardableResult
    package static func checkSubfolder(_ subfolder: String, field: String = "subfolder") throws(GatewayError)
        -> [String]
    {
        guard !subfolder.isEmpty else { return [] }
        guard !subfolder.hasPrefix("/") else { throw refusal(field, subfolder, "must not be an absolute path") }
        var components: [String] = []
        for component in subfolder.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty else {
                throw refusal(field, subfolder, "must not contain empty path components")
            }
            try checkComponent(String(component), field: field, value: subfolder)
            guard !component.hasPrefix(".") else {
                throw refusal(field, subfolder, "must not contain hidden folders (a component starting with '.')")
            }
            components.append(String(component))
        }
        return components
    }

    private static func checkComponent(_ component: String, field: String, value: String) throws(GatewayError) {
        guard component != "." && component != ".." else {
            throw refusal(field, value, "must not contain '.' or '..' path components")
        }
        guard !component.contains("\\") else { throw refusal(field, value, "must not contain backslashes") }
        guard !component.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw refusal(field, value, "must not contain NUL or control characters")
        }
        guard component.utf8.count <= 255 else { throw refusal(field, value, "has a component over 255 bytes") }
    }

    private static func refusal(_ field: String, _ value: String, _ reason: String) -> GatewayError {
        GatewayError(
            .fileOperationError, status: 400, message: "Unsafe \(field): it \(reason).",
            details: ["field": .string(field), "value": .string(value)])
    }
}
