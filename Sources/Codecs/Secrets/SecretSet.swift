import Crypto

/// A set of secrets (API keys) that a presented credential is checked against in constant
/// time: each secret is kept only as its SHA-256 digest, the candidate is hashed the same way,
/// and every digest is compared in full with no early exit, so neither the time taken nor the
/// path through the code depends on how much of a key a guess got right, or on which key.
package struct SecretSet: Sendable, Equatable {
    private let digests: [[UInt8]]

    /// The set of `secrets`; empty strings are ignored.
    package init(_ secrets: [String]) {
        digests = secrets.filter { !$0.isEmpty }.map { Array(SHA256.hash(data: Array($0.utf8))) }
    }

    /// True when no secret is configured (access is then open).
    package var isEmpty: Bool { digests.isEmpty }

    /// How many secrets are configured.
    package var count: Int { digests.count }

    /// True when `candidate` is one of the secrets.
    package func contains(_ candidate: some StringProtocol) -> Bool {
        let digest = Array(SHA256.hash(data: Array(candidate.utf8)))
        var matches: UInt8 = 0
        for secret in digests {
            var difference: UInt8 = 0
            for index in 0..<digest.count { difference |= secret[index] ^ digest[index] }
            matches |= difference == 0 ? 1 : 0
        }
        return matches != 0
    }
}
