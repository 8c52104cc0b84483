import ArgumentParser
import BatchHTTP
import Logging

/// `--metrics-port` and `--metrics-listen`: the Prometheus and health endpoint of `worker`,
/// `launch` and `restart` (off unless a port is given).
struct MetricsOptions: ParsableArguments {
    @Option(
        name: .customLong("metrics-port"),
        help: """
            Serve GET /metrics (Prometheus text), /health (liveness) and /ready (readiness: \
            connected, registered, heartbeat current; 503 otherwise) on this port; 0 takes a \
            free one (logged). Off by default: no metric is recorded then.
            """)
    var port: Int?

    @Option(
        name: .customLong("metrics-listen"),
        help: "The address the metrics endpoint listens on (default 127.0.0.1: this host only; 0.0.0.0 for every interface).")
    var listen: String = "127.0.0.1"

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--metrics-port must be between 0 and 65535") }
        guard !listen.isEmpty else { throw ValidationError("--metrics-listen needs an address, e.g. 127.0.0.1") }
    }

    /// Installs the Prometheus registry as the metrics backend when an endpoint is asked for.
    /// Call it before making what records metrics (a worker looks its metrics up when made).
    func bootstrapIfAsked() {
        if port != nil { _ = PrometheusMetrics.bootstrap() }
    }

    /// The endpoint asked for, with metrics recorded from now on into its registry; nil when
    /// no port was given.
    func endpoint(logger: Logger, readiness: @escaping @Sendable () -> Readiness) -> MetricsEndpoint? {
        guard let port else { return nil }
        return MetricsEndpoint(
            configuration: MetricsEndpoint.Configuration(host: listen, port: port), registry: PrometheusMetrics.bootstrap(),
            logger: logger, readiness: readiness)
    }
}
