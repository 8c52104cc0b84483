import Batch
import Foundation
import PostgresClient

/// The parts of a step execution's save that every ``StepCommitGuard`` shares: the update of
/// the step and its context, and how its result is read.
public enum StepSaveSQL {
    /// The time a save records as the step's `last_updated`.
    public static func now() -> Date { Date() }

    /// Two common table expressions, `step` and `context`, to follow a `WITH` (and anything the
    /// guard puts before them): `step` saves the execution's status, counts and exit status
    /// under its optimistic version, only if `condition` (SQL over the guard's own expressions)
    /// holds, and returns its job execution's id; `context` then saves the context, unless it
    /// is unchanged.
    public static func stepAndContext(
        _ execution: StepExecution, now: Date, onlyIf condition: String?
    ) -> PostgresQuery.Fragment {
        let counts = execution.counts
        let exit = execution.exitStatus.truncatedForStorage
        let (short, serialized) = execution.context.storageForm()
        return """
            step AS (
                UPDATE batch_step_execution SET
                    version = version + 1, status = \(execution.status.rawValue),
                    start_time = \(execution.startTime), end_time = \(execution.endTime),
                    commit_count = \(counts.commit), read_count = \(counts.read),
                    filter_count = \(counts.filter), write_count = \(counts.write),
                    read_skip_count = \(counts.readSkip), write_skip_count = \(counts.writeSkip),
                    process_skip_count = \(counts.processSkip), rollback_count = \(counts.rollback),
                    exit_code = \(exit.exitCode), exit_message = \(exit.exitDescription), last_updated = \(now)
                WHERE step_execution_id = \(execution.id) AND version = \(execution.version)
                  \(unsafeRaw: condition.map { "AND (\($0))" } ?? "")
                RETURNING job_execution_id
            ), context AS (
                -- An unchanged context (a tasklet that keeps none, a partition's key range) is
                -- not written again: no new row version, no WAL. Each value is bound once.
                UPDATE batch_step_execution_context c SET short_context = given.short, serialized_context = given.serialized
                FROM (SELECT \(short)::text AS short, \(serialized)::text AS serialized) given
                WHERE c.step_execution_id = \(execution.id) AND EXISTS (SELECT 1 FROM step)
                  AND (c.short_context, c.serialized_context) IS DISTINCT FROM (given.short, given.serialized)
            )
            """
    }

    /// A select-list expression: the job execution's status, or NULL when `step` saved nothing.
    public static let jobStatusColumn =
        "(SELECT e.status FROM batch_job_execution e JOIN step ON e.job_execution_id = step.job_execution_id)"

    /// A select-list expression that fails the statement with SQLSTATE SB002 when `step` saved
    /// nothing (a stale version), so that a COMMIT sent in the same round trip does not commit
    /// the chunk's output without its checkpoint. Read the error with ``refusal(_:of:)``.
    public static func refusedWhenStale(_ execution: StepExecution) -> PostgresQuery.Fragment {
        """
        CASE WHEN NOT EXISTS (SELECT 1 FROM step)
             THEN batch_refuse_save('stale', \(staleVersion(execution).message)) END
        """
    }

    /// The SQLSTATE of a save refused because the step's version is stale.
    public static let staleState: SQLState = "SB002"
    /// The SQLSTATE of a save refused because its guard (a claim) no longer holds.
    public static let guardLostState: SQLState = "SB001"

    /// Reads a save's ``jobStatusColumn``: moves `execution`'s version on, or throws the
    /// stale-version error when nothing was saved.
    public static func saved(_ execution: inout StepExecution, jobStatus: String?, now: Date) throws -> BatchStatus {
        guard let jobStatus else { throw staleVersion(execution) }
        execution.version += 1
        execution.lastUpdated = now
        return BatchStatus(rawValue: jobStatus) ?? .unknown
    }

    /// Another process saved the step execution since this one read it.
    public static func staleVersion(_ execution: StepExecution) -> JobRepositoryError {
        JobRepositoryError(
            message: "step execution \(execution.id) (\(execution.stepName)) was changed by another process (version \(execution.version) is stale); this run stops here")
    }
}
