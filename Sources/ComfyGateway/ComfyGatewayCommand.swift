import ArgumentParser
import Core
import Entry
import FoundationEssentials
import Glibc
import Logging
import Reactor
import SystemPackage

/// `comfy-gateway`: parses the command line, loads the configuration, and runs the gateway
/// until SIGTERM or SIGINT, then shuts it down gracefully and exits 0.
@main
struct ComfyGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "comfy-gateway",
        abstract: "HTTP + WebSocket gateway in front of ComfyUI.",
        discussion: """
            Every option can also be set by its environment variable (shown in capitals) or in an env \
            file. Precedence: option > environment > env file (--env-file, else .env in the working \
            directory if present) > default.
            """,
        version: GatewayVersion.current)

    @OptionGroup var settings: SettingOptions

    @Option(name: .customLong("env-file"), help: "Env file to read (KEY=value lines); default: .env if present.")
    var envFile: String?

    func run() async throws {
        let configuration: GatewayConfiguration
        do {
            configuration = try await ConfigurationLoader.load(
                flags: settings.values, environment: ProcessInfo.processInfo.environment, envFile: envFile)
        } catch {
            StandardError.write("comfy-gateway: \(error)\n")
            throw ExitCode(2)
        }
        GatewayLogging.bootstrap(configuration)
        let logger = Logger(label: "comfy-gateway")
        let loop = try EventLoop()
        loop.start()
        let shutdown = try await ShutdownSignal.install(on: loop)
        let application = GatewayApplication(configuration: configuration, loop: loop, logger: logger)
        let port: Int
        do {
            port = try await application.start()
        } catch {
            logger.critical("cannot listen on \(configuration.host):\(configuration.port): \(error)")
            loop.shutdown()
            throw ExitCode(1)
        }
        logger.info(
            "\(configuration.appName) \(configuration.appVersion) listening on \(configuration.host):\(port)",
            metadata: ["comfyui": "\(configuration.comfyURL)"])
        let signal = await shutdown.wait()
        logger.info("received signal \(signal); shutting down")
        await application.shutdown()
        await Task.detached { loop.shutdown() }.value
        logger.info("stopped")
    }
}
