import ArgumentParser
import Core
import Entry
import FoundationEssentials
import Glibc
import Logging
import Reactor

/// `comfy-gateway`: parses the command line, loads the configuration, and runs the gateway
/// until SIGTERM or SIGINT, then shuts it down gracefully and exits 0. SIGHUP reloads the
/// configuration (API keys, CORS origins, log level). Under systemd it speaks the notify
/// protocol and accepts a socket-activated listener.
@main
struct ComfyGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comfy-gateway",
        abstract: "HTTP + WebSocket gateway in front of ComfyUI.",
        discussion: """
            Every option can also be set by its environment variable (shown in capitals) or in an env \
            file. Precedence: option > environment > env file (--env-file, else .env in the working \
            directory if present) > default. SIGTERM or SIGINT drains and stops the gateway; SIGHUP \
            reloads API_KEYS, CORS_ORIGINS and LOG_LEVEL from the same sources.
            """,
        version: GatewayVersion.current)

    @OptionGroup var settings: SettingOptions

    @Option(name: .customLong("env-file"), help: "Env file to read (KEY=value lines); default: .env if present.")
    var envFile: String?

    /// True when systemd passed the listening socket (HOST and PORT are then not used).
    private var isSocketActivated: Bool {
        !SystemdEnvironment.listenDescriptors(
            ProcessInfo.processInfo.environment, processID: SystemdEnvironment.processID
        ).isEmpty
    }

    func run() async throws {
        defer { LogSink.standardError.flush() }
        // Buffers of 256 KiB and more (ComfyUI messages of many MB) are mapped on their own and
        // returned to the system when freed. glibc's default raises that threshold after the first
        // large free, and a burst of large messages then stays in the heap after it is over.
        HeapMemory.returnLargeBuffers()
        let environment = ProcessInfo.processInfo.environment
        let configuration: GatewayConfiguration
        do {
            configuration = try await ConfigurationLoader.load(
                flags: settings.values, environment: environment, envFile: envFile)
        } catch {
            StandardError.write("comfy-gateway: \(error)\n")
            throw ExitCode(2)
        }
        let fileValuesAtStart = await ConfigurationLoader.fileValues(envFile: envFile)
        let accessLog = GatewayLogging.bootstrap(configuration, environment: environment)
        let logger = Logger(label: "comfy-gateway")
        let fileLimit = FileDescriptorLimit.raiseToHardLimit()
        // Past the open-files limit libuv can only reset new clients; below it, a client over
        // the connection limit is answered 503. An eighth of the descriptors (at least 64) stay
        // for upstream connections, files being streamed, and refused clients being closed.
        let files = Int(clamping: fileLimit)
        let affordable = max(16, files - max(64, files / 8))
        if configuration.maxConnections > affordable {
            logger.warning(
                "MAX_CONNECTIONS \(configuration.maxConnections) is above what the open-files limit \(fileLimit) allows; serving at most \(affordable) connections (raise LimitNOFILE / ulimit -n)"
            )
        }
        let inherited = SystemdEnvironment.listenDescriptors(environment, processID: SystemdEnvironment.processID)
        SystemdEnvironment.closeOnExec(inherited)
        if inherited.count > 1 {
            logger.warning("systemd passed \(inherited.count) sockets; serving the first (fd 3) only")
        }

        let loop = try EventLoop()
        loop.start()
        let signals = try await ProcessSignals.install(on: loop)
        let systemd = SystemdIntegration(environment: environment, loop: loop)
        let application: GatewayApplication
        do {
            application = try await GatewayApplication.open(
                configuration: configuration, loop: loop, logger: logger, listenDescriptor: inherited.first,
                connectionLimit: affordable, accessLog: accessLog)
        } catch {
            logger.critical("\(error)")
            systemd.failed(status: "\(error)", errno: nil)
            await Task.detached { loop.shutdown() }.value
            throw ExitCode(2)
        }
        let address: String
        do {
            address = try await application.start()
        } catch {
            let target = inherited.isEmpty ? "\(configuration.host):\(configuration.port)" : "the socket systemd passed"
            logger.critical("cannot listen on \(target): \(error)")
            systemd.failed(
                status: "Cannot listen on \(target): \(error)", errno: (error as? UVError).map { -$0.code })
            loop.shutdown()
            throw ExitCode(1)
        }
        let activation = inherited.isEmpty ? "" : " (socket activation)"
        logger.info(
            "\(configuration.appName) \(configuration.appVersion) listening on \(address)\(activation)",
            metadata: [
                "comfyui": "\(configuration.comfyURL)", "api_keys": "\(configuration.apiKeys.count)",
                "cors_origins": "\(configuration.corsOrigins.count)", "max_open_files": "\(fileLimit)",
                "watchdog": "\(systemd.watchdog.map { "\($0)" } ?? "off")",
            ])
        await systemd.ready(application, status: "Listening on \(address); ComfyUI at \(configuration.comfyURL)")

        let signal = await signals.waitForStop {
            systemd.reloading()
            await reload(application, environment: environment, fileValuesAtStart: fileValuesAtStart, logger: logger)
            systemd.reloaded(status: await application.statusLine())
        }
        let open = await application.connectionCount()
        logger.info(
            "received signal \(signal); draining \(open) connections for up to \(configuration.shutdownDrainSeconds) s")
        await systemd.stopping(status: "Draining \(open) connections")
        await application.shutdown()
        await Task.detached { loop.shutdown() }.value
        logger.info("stopped")
    }

    /// Loads the configuration again and applies what can change while running.
    private func reload(
        _ application: GatewayApplication, environment: [String: String], fileValuesAtStart: [String: String],
        logger: Logger
    ) async {
        do {
            let reloaded = try await ConfigurationLoader.reload(
                flags: settings.values, environment: environment, envFile: envFile,
                fileValuesAtStart: fileValuesAtStart)
            var needRestart = application.apply(reloaded)
            if isSocketActivated { needRestart.removeAll { $0 == "HOST" || $0 == "PORT" } }
            GatewayLogging.setLevel(reloaded.logLevel)
            logger.notice(
                "configuration reloaded",
                metadata: [
                    "api_keys": "\(reloaded.apiKeys.count)", "cors_origins": "\(reloaded.corsOrigins.count)",
                    "log_level": "\(reloaded.logLevel)",
                ])
            let fileNow = await ConfigurationLoader.fileValues(envFile: envFile)
            for variable in ["API_KEYS", "CORS_ORIGINS", "LOG_LEVEL"] {
                guard let fileValue = fileNow[variable], let own = environment[variable], own != fileValue,
                    own != fileValuesAtStart[variable]
                else { continue }
                logger.warning("\(variable) is set in the environment, which wins over the env file's value")
            }
            if !needRestart.isEmpty {
                logger.warning(
                    "changed settings that only apply after a restart: \(needRestart.joined(separator: ", "))")
            }
        } catch {
            logger.error("reload failed; the running configuration stays: \(error)")
        }
    }
}
