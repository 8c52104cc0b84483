import ArgumentParser
import Batch
import BatchCluster
import BatchHTTP
import Dispatch
import Foundation
import PostgresClient
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct WorkerCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "worker",
            abstract: "Run partitions of partitioned steps and chunks of remote chunk steps, claimed from the job repository.",
            discussion: """
                Start as many workers as you like, on any host that reaches the repository. Each \
                registers itself, claims ready partitions of the steps it serves (FOR UPDATE SKIP \
                LOCKED: never two workers on one partition), runs up to --concurrency of them at \
                once, and renews its leases by heartbeat and at every chunk commit. A worker that \
                dies or is paused past its lease loses its partitions to others, which resume them \
                from their last committed chunk; it can never commit after that.

                Remote chunk steps are served by the same slots: a free \
                slot claims a chunk the launcher sent, processes its items outside any transaction, \
                then writes them and records the chunk DONE in one transaction, under its claim. A \
                chunk whose worker died or was paused past its lease is claimed again by another \
                and written exactly once.

                SIGTERM or SIGINT: stop claiming, finish the chunk in hand, hand the partitions back \
                (their checkpoints kept) and exit 0. A second signal exits at once.

                --metrics-port PORT serves Prometheus metrics at /metrics (Spring Batch's \
                spring_batch_* names, and swiftbatch_* for claims, slots, leases and fencing), \
                liveness at /health, and readiness at /ready: 200 while the worker is connected, \
                registered and its heartbeat is within a lease, 503 otherwise (database gone, \
                shutting down). See docs/OPERATIONS.md.

                A chunk's transaction is open only from its first write to its commit (reading and \
                processing happen before it); it must not sit idle longer than twice the lease: the \
                server then ends the worker's session (idle_in_transaction_session_timeout), so a \
                paused worker cannot keep a partition locked.

                Commits: a worker's commits return before the server has flushed them to disk \
                (synchronous_commit = off for its own sessions only). A server crash can then lose \
                the last few hundred milliseconds of them, always the latest and never one without \
                those before it: their partitions or chunks run again from the last durable \
                checkpoint, and their output, written in the same transactions, is lost with them, \
                so nothing is duplicated. A job's end is always committed synchronously, which makes \
                everything it counted durable. --synchronous-commit makes each commit wait instead \
                (one fsync per partition's end and per chunk).

                Examples:
                  \(ApplicationName.current) worker
                  \(ApplicationName.current) worker --concurrency 4 --steps \(HelpExamples.job) --lease-seconds 30
                  \(ApplicationName.current) worker --metrics-port 9464 --metrics-listen 0.0.0.0
                """)
    }

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Partitions or remote chunks run at once (one thread and one connection each).")
    var concurrency: Int = 2

    @Option(help: "Serve only these partitioned or remote chunk steps: job or job/step names, comma-separated (default: all).")
    var steps: String?

    @Option(name: .customLong("lease-seconds"), help: "How long a claim lasts without renewal; also how long a silent database is waited for (TCP keepalives).")
    var leaseSeconds: Double = 30

    @Flag(
        name: .customLong("synchronous-commit"),
        help: "Make every partition and chunk commit wait for its fsync (default: the server flushes it within a few hundred ms; see Commits above).")
    var synchronousCommit = false

    @OptionGroup var metrics: MetricsOptions

    func validate() throws {
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256") }
        guard leaseSeconds >= 1, leaseSeconds <= 3600 else {
            throw ValidationError("--lease-seconds must be between 1 and 3600")
        }
    }

    func run() async throws {
        metrics.bootstrapIfAsked()
        try await database.connectChecked(name: "worker").close()
        let configuration = WorkerConfiguration(
            connectionString: database.resolvedURL, concurrency: concurrency,
            steps: steps.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } },
            lease: .milliseconds(Int64(leaseSeconds * 1000)), synchronousCommit: synchronousCommit)
        let worker: PartitionWorker
        do {
            worker = try PartitionWorker(jobs: JobRegistry.all, configuration: configuration, logger: CLILogging.logger)
        } catch let error as WorkerError {
            throw CommandFailure(error.message, exitCode: ExitCodes.usage)
        }
        let endpoint = metrics.endpoint(logger: CLILogging.logger) {
            let health = worker.health
            return Readiness(isReady: health.isReady, checks: health.checks)
        }
        // The worker and its endpoint are services of one group: the worker's end (after a
        // signal) shuts the endpoint down; the endpoint failing to start stops the worker.
        var services = [ServiceGroupConfiguration.ServiceConfiguration(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)]
        if let endpoint { services.append(.init(service: endpoint)) }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: CLILogging.logger))
        // Signals stay this command's own: the first shuts the group down gracefully (the
        // worker hands its partitions back), the second exits at once.
        let signals = SignalHandler { Task { await group.triggerGracefulShutdown() } }
        defer { signals.cancel() }
        try await group.run()
    }
}

/// SIGTERM and SIGINT (or the given signals): the first prints `notice` and calls `graceful`,
/// the second exits at once (128 + the signal).
final class SignalHandler {
    private let sources: [any DispatchSourceSignal]
    private let numbers: [Int32]

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    init(
        signals numbers: [Int32] = [SIGTERM, SIGINT],
        notice: String = "\(ApplicationName.current): stopping after the current chunks (signal again to exit now)",
        graceful: @escaping @Sendable () -> Void
    ) {
        let counter = Counter()
        var sources: [any DispatchSourceSignal] = []
        for number in numbers {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if counter.value.add(1, ordering: .relaxed).newValue == 1 {
                    StatusLine.shared.printLine(notice)
                    graceful()
                } else {
                    exit(128 + number)
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
        self.numbers = numbers
    }

    /// Stops handling: the signals do what they do by default again.
    func cancel() {
        for source in sources { source.cancel() }
        for number in numbers { signal(number, SIG_DFL) }
    }
}
