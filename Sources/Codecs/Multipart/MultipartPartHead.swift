/// The headers of one multipart part, with the `Content-Disposition` parameters a form needs.
package struct MultipartPartHead: Sendable, Equatable {
    /// The header fields in order, names as sent.
    package let headers: HTTPHeaders
    /// The form field name (`name` of `Content-Disposition: form-data`).
    package let name: String?
    /// The file name, when the part is a file (`filename*` wins over `filename`).
    package let filename: String?

    package init(headers: HTTPHeaders) {
        self.headers = headers
        let disposition = headers[first: "Content-Disposition"] ?? ""
        let parameters = Self.parameters(of: disposition)
        name = parameters["name"]
        filename = parameters["filename*"].flatMap(Self.decodeExtended) ?? parameters["filename"]
    }

    /// Parses the header block (without the blank line that ends it).
    init(parsing block: ArraySlice<UInt8>) throws(MultipartError) {
        guard let text = String(validating: block, as: UTF8.self) else { throw .malformedHeader }
        var headers = HTTPHeaders()
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                let first = line.first, first != " " && first != "\t"
            else { throw .malformedHeader }
            let name = String(line[..<colon])
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw .malformedHeader
            }
            headers.add(name: name, value: String(line[line.index(after: colon)...]).trimmingSpaces)
        }
        self.init(headers: headers)
    }

    /// The value of the part's `Content-Type`, if any.
    package var contentType: String? { headers[first: "Content-Type"] }

    /// The `;`-separated `key=value` parameters of a header value (keys lowercased, quoted
    /// strings unescaped).
    static func parameters(of value: String) -> [String: String] {
        var result: [String: String] = [:]
        var characters = Substring(value)
        // Skip the disposition type.
        guard let semicolon = characters.firstIndex(of: ";") else { return result }
        characters = characters[characters.index(after: semicolon)...]
        while !characters.isEmpty {
            characters = characters.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            let key = characters.prefix { $0 != "=" && $0 != ";" }
            characters = characters.dropFirst(key.count)
            guard characters.first == "=" else { continue }
            characters = characters.dropFirst()
            var parsed = ""
            if characters.first == "\"" {
                characters = characters.dropFirst()
                var escaped = false
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if escaped {
                        parsed.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        parsed.append(character)
                    }
                }
                characters = characters.drop { $0 != ";" }
            } else {
                let token = characters.prefix { $0 != ";" }
                parsed = String(token).trimmingSpaces
                characters = characters.dropFirst(token.count)
            }
            result[String(key).trimmingSpaces.lowercased()] = parsed
        }
        return result
    }

    /// Decodes an RFC 8187 extended value (`UTF-8''%E2%82%AC.png`); nil if malformed.
    static func decodeExtended(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].lowercased() == "utf-8" else { return nil }
        var bytes: [UInt8] = []
        var iterator = pieces[2].utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
