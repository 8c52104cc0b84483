import CoreMetrics
import Prometheus
import Synchronization

/// The process's Prometheus registry, installed as swift-metrics' backend the first time it is
/// asked for. swift-metrics takes one backend per process: an application that has bootstrapped
/// its own should serve that instead (``MetricsEndpoint`` takes any registry).
public enum PrometheusMetrics {
    private static let installed = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry, bootstrapping `MetricsSystem` with it on first use.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        installed.withLock { registry in
            if let registry { return registry }
            let made = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: made)
            // Chunk and partition timers span milliseconds to minutes.
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250),
                .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
                .seconds(60), .seconds(300),
            ]
            MetricsSystem.bootstrap(factory)
            registry = made
            return made
        }
    }
}
