import Batch
import BatchCluster
import BatchHTTP
import ServiceLifecycle

/// What a launcher's `/ready` says: its heartbeat renews (no failed renewal, the last one
/// within a lease), and its local workers, if any, are ready.
enum LaunchReadiness {
    static func now(localWorker: WorkerHealth?, lease: Duration) -> Readiness {
        let heartbeat = LauncherHealth.shared
        let age = heartbeat.age
        var ready = heartbeat.isHealthy && (age.map { $0 <= lease } ?? true)
        var checks = ["launcher_heartbeat": heartbeat.isHealthy ? "ok" : "failing"]
        if let age { checks["launcher_heartbeat_age_seconds"] = "\(age.components.seconds)" }
        if let localWorker {
            ready = ready && localWorker.isReady
            for (key, value) in localWorker.checks { checks["local_workers_" + key] = value }
        }
        return Readiness(isReady: ready, checks: checks)
    }
}

extension MetricsEndpoint {
    /// Runs the endpoint in a group of its own until the task is cancelled (the launch ends).
    func runUntilCancelled() async throws {
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: self)], logger: CLILogging.logger))
        try await withTaskCancellationHandler {
            try await group.run()
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}
