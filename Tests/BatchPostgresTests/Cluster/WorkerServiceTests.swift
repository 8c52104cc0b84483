import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// A worker as a ServiceLifecycle service: the group's graceful shutdown and the task's
/// cancellation both end it the way shutdown() does, and a bad configuration throws.
@Suite("PartitionWorker as a Service", .timeLimit(.minutes(2)))
struct WorkerServiceTests {
    static func worker(_ url: String) throws -> PartitionWorker {
        try PartitionWorker(
            jobs: [Job("service-test") { TaskletStep("noop") { _, _ in .finished } }],
            configuration: WorkerConfiguration(connectionString: url, concurrency: 1, lease: .seconds(3)),
            logger: Logger(label: "test"))
    }

    static func migrated(_ body: (String) async throws -> Void) async throws {
        try await TestDatabase.withFreshDatabase { url in
            _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
            try await body(url)
        }
    }

    @Test func cancellingItsTaskStopsIt() async throws {
        try await Self.migrated { url in
            let worker = try Self.worker(url)
            let running = Task { try await worker.run() }
            try await waitFor("worker ready", timeout: .seconds(30)) { worker.health.isReady }
            running.cancel()
            try await running.value
            #expect(worker.isShuttingDown)
            #expect(!worker.health.isReady)
        }
    }

    @Test func theGroupsGracefulShutdownStopsIt() async throws {
        try await Self.migrated { url in
            let worker = try Self.worker(url)
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [worker], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            try await waitFor("worker ready", timeout: .seconds(30)) { worker.health.isReady }
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(worker.isShuttingDown)
        }
    }

    @Test func aBadConfigurationThrows() throws {
        #expect(throws: WorkerError.self) {
            try PartitionWorker(
                jobs: [], configuration: WorkerConfiguration(connectionString: nil, concurrency: 0), logger: Logger(label: "test"))
        }
    }
}
