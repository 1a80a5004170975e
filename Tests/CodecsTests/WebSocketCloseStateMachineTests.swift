import Codecs
import Testing

/// Every transition of the closing handshake and ping handling.
struct WebSocketCloseStateMachineTests {
    static func close(_ code: UInt16, _ reason: String = "") -> WebSocketFrame {
        WebSocketFrame(opcode: .close, payload: WebSocketFrameEncoder.closePayload(code: code, reason: reason))
    }

    @Test func weCloseFirstThenThePeerAnswers() {
        var server = WebSocketCloseStateMachine(role: .server)
        #expect(server.close(code: 1001, reason: "going away") == .send(Self.close(1001, "going away")))
        #expect(server.state == .closing)
        #expect(!server.canSendData)
        #expect(server.close(code: 1000) == .none, "a close is sent once")
        #expect(server.receivedPing([1]) == .none, "no pong while closing")
        #expect(server.receivedClose(code: 1001, reason: "") == .closeConnection, "the server drops TCP first")
        #expect(server.state == .closed)
        var client = WebSocketCloseStateMachine(role: .client)
        _ = client.close(code: 1000)
        #expect(client.receivedClose(code: 1000, reason: "") == .none, "a client waits for the server to drop TCP")
    }

    @Test func thePeerClosesFirstAndIsAnsweredOnceWithItsCode() {
        var machine = WebSocketCloseStateMachine(role: .server)
        #expect(machine.receivedClose(code: 4001, reason: "done") == .sendAndClose(Self.close(4001)))
        #expect(machine.peerClose?.code == 4001 && machine.peerClose?.reason == "done")
        #expect(machine.receivedClose(code: 4001, reason: "again") == .none)
        #expect(machine.close(code: 1000) == .none)
    }

    @Test func aCloseWithoutCodeIsAnsweredWithoutCode() {
        var machine = WebSocketCloseStateMachine(role: .server)
        #expect(
            machine.receivedClose(code: 1005, reason: "") == .sendAndClose(WebSocketFrame(opcode: .close, payload: [])))
    }

    @Test func pingsAreAnsweredWithTheSamePayload() {
        var machine = WebSocketCloseStateMachine(role: .client)
        #expect(machine.receivedPing([1, 2, 3]) == .send(WebSocketFrame(opcode: .pong, payload: [1, 2, 3])))
        #expect(machine.state == .open)
    }

    @Test func protocolErrorsFailTheConnectionWithTheirCode() {
        var open = WebSocketCloseStateMachine(role: .server)
        #expect(open.failed(.invalidUTF8) == .sendAndClose(Self.close(1007, "invalid UTF-8")))
        #expect(open.failed(.invalidUTF8) == .none)
        var closing = WebSocketCloseStateMachine(role: .server)
        _ = closing.close(code: 1000)
        #expect(closing.failed(.protocolError("x")) == .closeConnection)
    }

    @Test func droppedConnectionReports1006Locally() {
        var machine = WebSocketCloseStateMachine(role: .client)
        machine.connectionClosed()
        #expect(machine.peerClose?.code == 1006)
        #expect(machine.state == .closed)
    }
}
