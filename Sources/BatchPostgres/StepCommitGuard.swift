import Batch
import PostgresClient

/// What a step execution's save must still hold, and what else it does, in the same statement.
///
/// A plain step saves under its optimistic version alone (``UnguardedSave``). A step that runs
/// under a claim (a worker's partition) saves under the claim's guard: the statement checks and
/// renews the claim, and may end the partition and claim the next one, so that a worker that
/// lost its claim can never commit. The guard is a value handed to each save, never a setting
/// of the session.
public protocol StepCommitGuard {
    /// What the guard reports of a save that went through (the next claim, say).
    associatedtype Outcome

    /// Saves `execution`'s status, counts and context on `db` in one statement, under the
    /// optimistic version and the guard, and returns the job execution's status as of now.
    ///
    /// Build the statement around ``StepSaveSQL/stepAndContext(_:now:onlyIf:)`` and read its
    /// result with ``StepSaveSQL/saved(_:jobStatus:now:)``, so the step is saved exactly as an
    /// unguarded save does.
    ///
    /// - Throws: the guard's own error when it no longer holds; a stale-version error when
    ///   another process saved the step first. Nothing was written either way.
    ///
    /// - Important: the statement must fail (not return an empty result) when it saves
    ///   nothing: at a chunk's end, COMMIT goes out in the same round trip and runs unless the
    ///   statement failed. Raise with `batch_refuse_save` (SQLSTATE
    ///   ``StepSaveSQL/guardLostState`` or ``StepSaveSQL/staleState``); see
    ///   ``StepSaveSQL/refusedWhenStale(_:)``.
    func save(_ execution: inout StepExecution, on db: PostgresConnection) throws
        -> (jobStatus: BatchStatus, outcome: Outcome)
}

/// The save of a step that runs under no claim: its optimistic version is all it checks.
public struct UnguardedSave: StepCommitGuard {
    public init() {}

    public func save(_ execution: inout StepExecution, on db: PostgresConnection) throws
        -> (jobStatus: BatchStatus, outcome: Void)
    {
        let now = StepSaveSQL.now()
        let row: PostgresRow
        do {
            row = try db.query("""
                WITH \(StepSaveSQL.stepAndContext(execution, now: now, onlyIf: nil))
                SELECT \(unsafeRaw: StepSaveSQL.jobStatusColumn), \(StepSaveSQL.refusedWhenStale(execution))
                """, prepared: true).single()
        } catch let error as PostgresError where error.sqlState == StepSaveSQL.staleState {
            throw StepSaveSQL.staleVersion(execution)
        }
        return (try StepSaveSQL.saved(&execution, jobStatus: row.decode(String?.self, column: 0), now: now), ())
    }
}
