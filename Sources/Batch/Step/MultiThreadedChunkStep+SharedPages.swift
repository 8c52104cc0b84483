import Foundation

/// What the threads of one execution of a ``MultiThreadedChunkStep`` share: the hand-out point
/// of the input, the step execution as of its last commit (counts, checkpoint, version), and
/// whether the step is ending.
///
/// Three locks, always taken in this order when nested: the commit turn (held by one thread
/// from the save of the step execution to the end of its COMMIT), then the hand-out lock (held
/// while a page is fetched, so pages are taken in key order and never twice), then the state
/// lock (short, for reading and updating the values below).
final class SharedPages: @unchecked Sendable {
    // Sendable rule: `next` and `gaps` are touched only with `handOutLock` held; `state` only
    // with `stateLock` held; `commitTurn` is only locked and unlocked.
    private let handOutLock = NSLock()
    private let stateLock = NSLock()
    private let commitTurn = NSLock()

    /// The keys of the input, both ends included.
    private let keys: ClosedRange<Int64>
    /// The checkpoint as the execution started: the keys a page may not cover again.
    private let gaps: KeyRangeCheckpoint
    /// The first key not handed out yet; nil when every key has been.
    private var next: Int64?
    /// The prefix of the checkpoint's context keys.
    private let prefix: String

    private struct State {
        /// The step execution as of the last commit (its version is the one the next save checks).
        var execution: StepExecution
        /// The checkpoint as of the last commit.
        var checkpoint: KeyRangeCheckpoint
        /// Rollbacks not yet in a commit's counts.
        var pendingRollbacks: Int64 = 0
        /// Of those, the ones the commit in progress carries.
        var rollbacksInCommit: Int64 = 0
        var stopping = false
        var failure: (any Error)?
        var allHandedOut = false
    }

    private var state: State

    init(execution: StepExecution, checkpoint: KeyRangeCheckpoint, keys: ClosedRange<Int64>, prefix: String) {
        self.keys = keys
        self.gaps = checkpoint
        self.prefix = prefix
        self.next = keys.lowerBound
        self.state = State(execution: execution, checkpoint: checkpoint)
    }

    private func withState<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        stateLock.lock()
        defer { stateLock.unlock() }
        return try body(&state)
    }

    /// The step execution as of the last commit.
    var execution: StepExecution { withState { $0.execution } }

    /// Takes the next page: the first `limit` rows of the first keys not yet handed out nor
    /// committed before this execution. Nil when none is left, or the step is ending.
    ///
    /// A page that fills up ends at its last row's key; a shorter one covers its whole gap, up
    /// to the next range committed before this execution (or the end of the input).
    func takePage<Source: KeyedPageSource>(_ source: Source, limit: Int, in chunk: ChunkContext) throws
        -> (Source.Page, ClosedRange<Int64>)?
    {
        handOutLock.lock()
        defer { handOutLock.unlock() }
        while true {
            if withState({ $0.stopping || $0.failure != nil }) { return nil }
            guard let from = next, let gap = gaps.firstGap(from: from, through: keys.upperBound) else {
                next = nil
                withState { $0.allHandedOut = true }
                return nil
            }
            let page = try source.fetch(gap, limit: limit, in: chunk)
            var range = gap
            if page.count >= limit {
                let last = try page.key(at: page.count - 1)
                guard gap.contains(last), page.count == limit else {
                    throw ItemStreamError(
                        code: .badCheckpoint, stream: prefix,
                        message: "asked for at most \(limit) rows with keys in \(gap), the source returned \(page.count) ending at key \(last)")
                }
                range = gap.lowerBound...last
            }
            next = range.upperBound == keys.upperBound ? nil : range.upperBound + 1
            if page.count > 0 { return (page, range) }
        }
    }

    /// Takes the commit turn: until ``endCommit(_:_:)`` or ``abandonCommit()``, no other thread
    /// saves the step execution.
    func beginCommit() {
        commitTurn.lock()
    }

    /// The step execution to save with a page that covers `page` and adds `counts` and `skips`:
    /// the last commit's, plus this page's counts, one commit, the rollbacks not yet saved, and
    /// the checkpoint with `page` done. Only with the commit turn held.
    ///
    /// - Throws: ``SkipLimitExceeded`` when the page's skips would take the step past `limit`.
    func commitCandidate(page: ClosedRange<Int64>, counts: StepCounts, skips: [SkippedItem], limit: Int) throws
        -> (StepExecution, KeyRangeCheckpoint)
    {
        try withState { state in
            let skippedBefore = state.execution.counts.skip
            if skippedBefore + Int64(skips.count) > Int64(limit) {
                let tooMany = skips[max(0, limit - Int(skippedBefore))]
                throw SkipLimitExceeded(limit: limit, phase: tooMany.phase, itemKey: tooMany.itemKey, reason: tooMany.reason)
            }
            var execution = state.execution
            execution.counts += counts
            execution.counts.commit += 1
            execution.counts.rollback += state.pendingRollbacks
            state.rollbacksInCommit = state.pendingRollbacks
            var checkpoint = state.checkpoint
            checkpoint.insert(page)
            checkpoint.save(to: &execution.context, prefix: prefix)
            return (execution, checkpoint)
        }
    }

    /// Records the commit that just succeeded (`saved`, as the repository saved it) and gives
    /// the commit turn back.
    func endCommit(_ saved: StepExecution, _ checkpoint: KeyRangeCheckpoint) {
        withState { state in
            state.execution = saved
            state.checkpoint = checkpoint
            state.pendingRollbacks -= state.rollbacksInCommit
            state.rollbacksInCommit = 0
        }
        commitTurn.unlock()
    }

    /// Gives the commit turn back after the commit failed: nothing of it is kept.
    func abandonCommit() {
        withState { $0.rollbacksInCommit = 0 }
        commitTurn.unlock()
    }

    func countRollback() {
        withState { $0.pendingRollbacks += 1 }
    }

    /// No page is handed out any more; the pages in hand are finished.
    func stop() {
        withState { $0.stopping = true }
    }

    /// Like ``stop()``, and the step fails with `error` (unless an earlier failure came first).
    func fail(_ error: any Error) {
        withState { state in
            if state.failure == nil { state.failure = error }
        }
    }

    /// Once every thread has ended: the step execution as of the last commit (with the
    /// rollbacks since), the first failure, and whether every page was handed out (and so, with
    /// no failure, committed).
    func outcome() -> (execution: StepExecution, failure: (any Error)?, allHandedOut: Bool) {
        withState { state in
            var execution = state.execution
            execution.counts.rollback += state.pendingRollbacks
            return (execution, state.failure, state.allHandedOut)
        }
    }
}
