import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// An HTTP endpoint for operators, as a ServiceLifecycle service (run it in a `ServiceGroup`;
/// a graceful shutdown stops it):
///
/// - `GET /metrics`: the Prometheus text of `registry`;
/// - `GET /health`: 200 while the process runs (liveness);
/// - `GET /ready` (or `/health?ready`): 200 when `readiness` says ready, else 503; the body is
///   a JSON object of what was checked.
public struct MetricsEndpoint: Service {
    public struct Configuration: Sendable {
        /// The address to listen on; 127.0.0.1 by default (only this host can scrape).
        public var host: String
        /// The port; 0 takes a free one (logged, and passed to `onListening`).
        public var port: Int

        public init(host: String = "127.0.0.1", port: Int) {
            self.host = host
            self.port = port
        }
    }

    public let configuration: Configuration
    private let registry: PrometheusCollectorRegistry
    private let readiness: @Sendable () -> Readiness
    private let logger: Logger
    private let onListening: @Sendable (Int) -> Void

    /// - Parameters:
    ///   - registry: what `/metrics` shows (``PrometheusMetrics/bootstrap()`` by default).
    ///   - readiness: asked at each `/ready`; keep it quick (no I/O).
    ///   - onListening: called with the port once the endpoint listens.
    public init(
        configuration: Configuration, registry: PrometheusCollectorRegistry = PrometheusMetrics.bootstrap(),
        logger: Logger, readiness: @escaping @Sendable () -> Readiness = { Readiness(isReady: true) },
        onListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.registry = registry
        self.readiness = readiness
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let router = Router()
        let registry = self.registry
        let readiness = self.readiness
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("health") { request, _ -> Response in
            if request.uri.queryParameters["ready"] != nil { return Self.readyResponse(readiness()) }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("ready") { _, _ -> Response in Self.readyResponse(readiness()) }
        let logger = self.logger
        let host = configuration.host
        let onListening = self.onListening
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port), serverName: "swiftbatch"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("metrics endpoint listening", metadata: ["batch.http.address": "\(host):\(port)"])
                onListening(port)
            },
            logger: logger)
        try await application.runService()
    }

    private static func readyResponse(_ readiness: Readiness) -> Response {
        Response(
            status: readiness.isReady ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: readiness.json)))
    }
}
