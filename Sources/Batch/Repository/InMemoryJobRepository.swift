import Foundation
import Logging
import Synchronization

/// A job repository in this process's memory, for tests and for trying a job without PostgreSQL.
///
/// It keeps the PostgreSQL repository's rules: one instance per job name and identifying
/// parameters; a launch refused when the instance completed, is running with a live launcher,
/// was abandoned or may not restart; a restart carrying the previous execution's context; steps
/// resumed only from attempts since the instance last completed; optimistic versions on step
/// saves; an operator's STOPPING kept; a chunk's output, skips, checkpoint and counts committed
/// together or not at all (see ``InMemoryStepTransaction``).
///
/// What a caller must not get wrong:
/// - Nothing outlives the process, and two repositories share nothing: every session that
///   should see the same jobs must come from the same instance (``openSession()``, or a
///   session's `openSibling()`).
/// - It cannot coordinate partitions or remote chunks (those need the cluster's tables): a
///   `PartitionStep` or `RemoteChunkStep` run against it fails at its start, saying so.
/// - Readers and writers that need a database connection (the PostgreSQL ones) cannot run on
///   it; a writer whose output must commit with the chunk uses
///   ``InMemoryStepTransaction/onCommit(_:)``.
public final class InMemoryJobRepository: JobRepository, Sendable {
    let store = InMemoryJobStore()

    public init() {}

    /// A session on this repository's store. Never fails.
    public func openSession() throws -> any JobRepositorySession {
        InMemoryJobRepositorySession(store: store)
    }

    /// Renews `launcher`'s lease on the execution every third of the lease, on a thread of its
    /// own, until stopped (so a launch after this process stopped heartbeating may take the
    /// execution over, as with PostgreSQL).
    public func startHeartbeat(jobExecutionID: Int64, launcher: LauncherIdentity, logger: Logger) throws
        -> any LauncherHeartbeat
    {
        InMemoryLauncherHeartbeat(store: store, jobExecutionID: jobExecutionID, launcher: launcher, logger: logger)
    }

    /// Makes the next `count` chunk commits of the step named `step` (any step when nil) fail
    /// with `error` after the chunk's work is done, as a COMMIT that PostgreSQL refuses would
    /// (a deadlock, a serialization failure): nothing of the chunk is kept, and the step's
    /// retry policy decides what happens next. For tests of what a rolled-back chunk leaves.
    public func failChunkCommits(_ count: Int = 1, step: String? = nil, with error: any Error & Sendable) {
        store.state.withLock { state in
            state.commitFailures += Array(repeating: (step, error), count: count)
        }
    }

    /// The skips recorded by the committed chunks of a job execution, in the order they committed.
    public func skippedItems(jobExecutionID: Int64) -> [SkippedItem] {
        store.state.withLock { state in state.skipped.filter { $0.jobExecutionID == jobExecutionID } }
    }

    /// Every execution of the job, oldest first (all its instances).
    public func jobExecutions(jobName: String) -> [JobExecution] {
        store.state.withLock { state in
            state.executions.values.filter { $0.jobName == jobName }.sorted { $0.id < $1.id }
        }
    }

    /// How many job instances and job executions the repository holds (of any job).
    public var counts: (instances: Int, executions: Int) {
        store.state.withLock { state in (state.instances.count, state.executions.count) }
    }
}

/// What the in-memory repository refuses that is not a launch refusal: an execution it does not
/// have, or a step execution saved from a stale copy.
public struct InMemoryJobRepositoryError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
