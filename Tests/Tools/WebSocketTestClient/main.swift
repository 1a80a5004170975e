// Drives our WebSocket client from outside, for the conformance checks:
//   websocket-test-client autobahn PORT            every case of Autobahn's fuzzingserver
//   websocket-test-client echo URL                 echo what the server sends until it closes
//   websocket-test-client sizes URL                send every length form, expect echoes
//   websocket-test-client close URL CODE [REASON]  close with CODE, report the answer
// It prints what it saw ("echoed text 126", "closed 1000 done") for the test to check, and exits
// non-zero when it cannot connect.
import Client
import Glibc
import Reactor

let arguments = Array(CommandLine.arguments.dropFirst())
let probe: Probe?
switch (arguments.first, arguments.count) {
case ("echo", 2): probe = .echo(url: arguments[1])
case ("sizes", 2): probe = .sizes(url: arguments[1])
case ("close", 3...4):
    probe = UInt16(arguments[2]).map {
        .close(url: arguments[1], code: $0, reason: arguments.count > 3 ? arguments[3] : "")
    }
case ("autobahn", _): probe = nil
default:
    print("usage: websocket-test-client autobahn PORT | echo URL | sizes URL | close URL CODE [REASON]")
    exit(2)
}

let loop = try EventLoop()
loop.start()
// The client is loop-bound: everything runs in a task whose executor is the loop.
let status = await Task(executorPreference: loop) { () -> Int32 in
    do {
        if let probe {
            try await probe.run(loop: loop)
        } else {
            try await runAutobahn(port: arguments.count > 1 ? Int(arguments[1]) ?? 9001 : 9001, loop: loop)
        }
        return 0
    } catch {
        print("failed: \(error)")
        return 1
    }
}.value
loop.shutdown()
exit(status)
