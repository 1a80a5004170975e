import Codecs
import Routing
import Testing

/// The server's own errors speak the API's one list of codes, each with the status its code
/// stands for, and the route-level list leaves out the one only the server raises.
@Suite struct HTTPErrorTests {
    @Test func theServersOwnErrorsAnswerWithTheStatusOfTheirCode() {
        let errors: [HTTPError] = [
            .notFound(path: "/x"), .methodNotAllowed(.get, allowed: [.post]), .internalError,
            .payloadTooLarge(limit: 10), .requestTimeout, .unavailable,
            .parseError(.bodyTooLarge), .parseError(.badRequest("bad")),
        ]
        for error in errors {
            #expect(error.status == error.code.defaultStatus, "\(error.code)")
        }
    }

    @Test func theBodyOfAServerErrorCarriesItsCodeInTheEnvelope() throws {
        let response = HTTPError.requestTimeout.makeResponse(requestID: "r1")
        let bytes = try #require(
            {
                if case .bytes(let bytes) = response.body { return bytes }
                return nil
            }() as [UInt8]?)
        let body = String(decoding: bytes, as: UTF8.self)
        #expect(response.status == 408)
        #expect(body.contains("\"code\":\"REQUEST_TIMEOUT\""))
        #expect(body.contains("\"request_id\":\"r1\""))
    }

    @Test func routeCodesLeaveOutOnlyTheServersRequestTimeout() {
        #expect(!ErrorCode.routeCodes.contains(.requestTimeout))
        // Submit answers it too, when the job ledger cannot record a job.
        #expect(ErrorCode.routeCodes.contains(.serviceUnavailable))
        #expect(ErrorCode.routeCodes.count == ErrorCode.allCases.count - 1)
    }
}
