import Entry
import Reactor

/// The gateway's side of systemd's service protocol: `READY=1` once listening, `STATUS=` lines
/// when what it does changes, `WATCHDOG=1` from the event loop at half the watchdog interval
/// (a stuck loop stops the pings and systemd restarts the service), `RELOADING=1` around a
/// reload and `STOPPING=1` on shutdown. Does nothing when not started with `Type=notify`.
actor SystemdIntegration {
    private nonisolated let notifier: SystemdNotifier?
    private nonisolated let watchdogInterval: Duration?
    private let loop: EventLoop
    private var watchdogTimer: LoopBound<LoopTimer>?
    private var statusTask: Task<Void, Never>?
    private var lastStatus = ""

    init(environment: [String: String], loop: EventLoop) {
        notifier = SystemdNotifier(environment: environment)
        watchdogInterval = SystemdEnvironment.watchdogInterval(environment, processID: SystemdEnvironment.processID)
        self.loop = loop
    }

    /// The watchdog interval systemd set, if any (for the start-up log).
    nonisolated var watchdog: Duration? { watchdogInterval }

    /// Tells systemd the service is up, starts the watchdog pings and the status updates.
    func ready(_ application: GatewayApplication, status: String) async {
        guard let notifier else { return }
        lastStatus = status
        notifier.send("READY=1\nSTATUS=\(status)\nMAINPID=\(SystemdEnvironment.processID)")
        if let interval = watchdogInterval {
            let loop = loop
            watchdogTimer = try? await loop.submit {
                let timer = LoopTimer(loop: loop)
                timer.start(every: interval / 2) { notifier.send("WATCHDOG=1") }
                timer.unref()
                return LoopBound(timer, loop: loop)
            }
        }
        statusTask = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                report(await application.statusLine())
            }
        }
    }

    /// Sends `status` when it changed, unless the updates have ended.
    private func report(_ status: String) {
        guard status != lastStatus, !Task.isCancelled else { return }
        lastStatus = status
        notifier?.send("STATUS=\(status)")
    }

    /// A reload begins (`RELOADING=1` with the monotonic time systemd requires).
    nonisolated func reloading() {
        notifier?.send(
            "RELOADING=1\nMONOTONIC_USEC=\(SystemdEnvironment.monotonicMicroseconds())\nSTATUS=Reloading configuration")
    }

    /// The reload is done, applied or not.
    nonisolated func reloaded(status: String) {
        notifier?.send("READY=1\nSTATUS=\(status)")
    }

    /// Shutdown begins: status updates end first (none may follow `STOPPING=1`); the watchdog
    /// keeps pinging while the server drains.
    func stopping(status: String) async {
        statusTask?.cancel()
        await statusTask?.value
        notifier?.send("STOPPING=1\nSTATUS=\(status)")
    }

    /// Start-up failed: the reason, for `systemctl status`.
    nonisolated func failed(status: String, errno: Int32?) {
        notifier?.send("STATUS=\(status)" + (errno.map { "\nERRNO=\($0)" } ?? ""))
    }
}
