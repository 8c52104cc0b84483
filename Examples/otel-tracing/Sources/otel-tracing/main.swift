import Batch
import BatchCluster
import BatchPostgres
import Foundation
import Logging
import OTel
import ServiceLifecycle

// otel-tracing worker   runs a worker; otel-tracing launch   launches the job.
// Both export spans (job, step, partition, chunk: one trace across the processes, joined
// through the partitions' contexts) and metrics over OTLP. Schema: `swiftbatch migrate`.
let job = Job("traced") {
    PartitionStep("work", gridSize: 4, partitioner: CountPartitioner(), workerStep: TaskletStep("work") { contribution, _ in
        contribution.counts.read += 1
        contribution.counts.write += 1
        return .finished
    })
}

var configuration = OTel.Configuration.default
configuration.serviceName = "swiftbatch-\(CommandLine.arguments.dropFirst().first ?? "worker")"
configuration.logs.enabled = false   // logs stay on stderr; they carry batch.trace
let observability = try OTel.bootstrap(configuration: configuration)
let logger = Logger(label: "otel-tracing")
let url = ProcessInfo.processInfo.environment["DATABASE_URL"]

struct Launch: Service {
    let logger: Logger
    let url: String?
    func run() async throws {
        let execution = try await JobLauncher(repository: PostgresJobRepository(connectionString: url), logger: logger)
            .run(job, parameters: [:], next: true)
        logger.notice("job ended", metadata: ["status": "\(execution.status.rawValue)"])
    }
}

let main: any Service = CommandLine.arguments.dropFirst().first == "launch"
    ? Launch(logger: logger, url: url)
    : try PartitionWorker(jobs: [job], configuration: WorkerConfiguration(connectionString: url), logger: logger)
// The application's service ends the group; the exporters flush as they shut down.
let group = ServiceGroup(configuration: ServiceGroupConfiguration(
    services: [
        .init(service: main, successTerminationBehavior: .gracefullyShutdownGroup),
        .init(service: observability),
    ],
    gracefulShutdownSignals: [.sigterm, .sigint],
    logger: logger))
try await group.run()
