import Batch
import BatchCluster
import BatchPostgres
import Logging
import PostgresClient
import Synchronization

/// Runs the launches and restarts the dashboard's operators ask for, in this process, as
/// `swiftbatch launch` would (the launcher heartbeats its execution; partitioned steps wait for
/// `swiftbatch worker` daemons). Each launch runs on a thread of its own; the request returns as
/// soon as the execution exists.
///
/// If the dashboard stops while a job it launched runs, the execution's launcher is gone: once
/// its lease ran out, launching the same instance again attaches to it, or `swiftbatch recover`
/// fails it for a restart (see `swiftbatch launch --help`).
final class LaunchRunner: Sendable {
    private let launcher: JobLauncher
    private let running = Mutex<[Int64: Task<Void, Never>]>([:])

    init(operatorDatabaseURL: String?, leaseSeconds: Int, logger: Logger) {
        var repository = PostgresJobRepository(connectionString: operatorDatabaseURL)
        repository.deadPeerDetection = DeadPeerDetection(timeout: .seconds(leaseSeconds))
        launcher = JobLauncher(repository: repository, logger: logger, lease: .seconds(leaseSeconds))
    }

    /// Starts `job` and returns its execution's id once the execution exists; throws what the
    /// launch threw before that (``JobLaunchError`` for a refusal or bad parameters).
    func start(_ job: Job, parameters: JobParameters, next: Bool) async throws -> Int64 {
        let (stream, continuation) = AsyncStream<Result<Int64, any Error>>.makeStream()
        let launcher = self.launcher
        let task = Task {
            do {
                let execution = try await launcher.run(job, parameters: parameters, next: next) { execution, _ in
                    continuation.yield(.success(execution.id))
                }
                continuation.yield(.success(execution.id))
                _ = self.running.withLock { $0.removeValue(forKey: execution.id) }
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        for await result in stream {
            let id = try result.get()
            running.withLock { $0[id] = task }
            return id
        }
        throw CancellationError()
    }

    /// The executions launched here that still run.
    var runningExecutions: [Int64] { running.withLock { Array($0.keys).sorted() } }
}
