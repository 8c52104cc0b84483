import Batch
import BatchCluster
import BatchPostgres
import Foundation
import Logging
import PostgresClient
import ServiceLifecycle

// A partitioned job: `slices` partitions, each a tasklet committing `chunks` chunks of a pause
// each, so a shutdown always finds partitions in flight.
let slices = Job("slices", summary: "Partitions of slow chunks, run by the embedded worker.") {
    PartitionStep("slice", gridSize: 4, gridParameter: "grid", partitioner: CountPartitioner(), workerStep: TaskletStep("slice") { contribution, chunk in
        let done = (contribution.context.int("chunks.done") ?? 0) + 1
        contribution.context["chunks.done"] = .int(done)
        contribution.counts.read += 1
        contribution.counts.write += 1
        Thread.sleep(forTimeInterval: Double(chunk.parameters.long("pause-ms") ?? 100) / 1000)
        return done >= (chunk.parameters.long("chunks") ?? 20) ? .finished : .continuable
    })
}

/// A service of the application's own, to show the worker is one service among others.
struct Ticker: Service {
    let logger: Logger
    func run() async throws {
        // Ends at the group's graceful shutdown (or cancellation).
        for await _ in AsyncTimerSequence.seconds(5).cancelOnGracefulShutdown() { logger.info("tick") }
    }
}

struct AsyncTimerSequence: AsyncSequence, Sendable {
    typealias Element = Void
    let interval: Duration
    static func seconds(_ n: Int) -> AsyncTimerSequence { AsyncTimerSequence(interval: .seconds(n)) }
    struct AsyncIterator: AsyncIteratorProtocol {
        let interval: Duration
        mutating func next() async -> Void? {
            do { try await Task.sleep(for: interval) } catch { return nil }
            return ()
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(interval: interval) }
}

let url = ProcessInfo.processInfo.environment["DATABASE_URL"]
var logger = Logger(label: "embedded-worker")
logger.logLevel = .info
let arguments = Array(CommandLine.arguments.dropFirst())
do {
    // Creates or upgrades the repository's schema (libpq blocks: on a thread of its own).
    let migrator = DedicatedThread(name: "migrate")
    defer { migrator.shutdown() }
    try await migrator.run {
        let connection = try PostgresConnection(connectionString: url)
        defer { connection.close() }
        _ = try SchemaMigrations.migrate(on: connection)
    }
    let repository = PostgresJobRepository(connectionString: url)
    if arguments.first == "launch" {
        // embedded-worker launch [name=value ...]: runs the job here; partitions go to workers.
        let parameters = try JobParameters(parsing: Array(arguments.dropFirst()))
        let execution = try await JobLauncher(repository: repository, logger: logger).run(slices, parameters: parameters)
        print("execution \(execution.id): \(execution.status.rawValue)")
        exit(execution.status == .completed ? 0 : 1)
    }
    // The worker: a Service in the application's own group. SIGTERM or SIGINT shuts the group
    // down gracefully: the worker stops claiming, finishes its chunk in hand and hands its
    // partitions back, the ticker stops, and the process exits 0.
    let worker = try PartitionWorker(
        jobs: [slices], configuration: WorkerConfiguration(connectionString: url, concurrency: 2), logger: logger)
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(
        services: [
            .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: Ticker(logger: logger)),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
    print("worker stopped: partitions handed back")
} catch {
    FileHandle.standardError.write(Data("embedded-worker: \(error)\n".utf8))
    exit(1)
}
