import ServiceLifecycle

/// A worker is a ServiceLifecycle service: run it in an application's own `ServiceGroup`
/// beside its other services. A graceful shutdown of the group (SIGTERM, say) or the
/// cancellation of the task running it does what ``PartitionWorker/shutdown()`` does: no new
/// claims, the chunk in hand finishes, the partitions are handed back, then ``run()`` returns.
extension PartitionWorker: Service {
    /// Runs until ``shutdown()``, a graceful shutdown or the task's cancellation; survives lost
    /// connections (reconnecting with backoff).
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await runUntilShutdown()
            } onGracefulShutdown: { [self] in
                shutdown()
            }
        } onCancel: { [self] in
            shutdown()
        }
    }
}
