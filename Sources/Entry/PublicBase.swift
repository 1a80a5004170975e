import Core
import Routing

/// The base URL clients reach the gateway at: `PUBLIC_BASE_URL` when set, else built from the
/// request's `Host` (when it is a plain host[:port]), else from the listening address.
struct PublicBase {
    let configured: String?
    let fallback: String

    init(configuration: GatewayConfiguration) {
        configured = configuration.publicBaseURL
        let host = configuration.host == "0.0.0.0" || configuration.host == "::" ? "127.0.0.1" : configuration.host
        fallback = "http://\(host.contains(":") ? "[\(host)]" : host):\(configuration.port)"
    }

    func base(for request: Request) -> String {
        if let configured { return configured }
        guard let host = request.header("Host"), !host.isEmpty, host.utf8.count <= 255,
            host.unicodeScalars.allSatisfy({ $0.isASCII && (Self.hostCharacters.contains($0)) })
        else { return fallback }
        return "http://\(host)"
    }

    private static let hostCharacters = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_".unicodeScalars)
}
