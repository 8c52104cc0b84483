import Foundation

/// What the threads of one execution of a ``MultiThreadedChunkStep`` share: the hand-out point
/// of the input, the step execution as of its last commit (counts, checkpoint, version), and
/// whether the step is ending.
///
/// Three locks, always taken in this order when nested: the commit turn (held by one thread
/// from the save of the step execution to the end of its COMMIT), then the hand-out lock (held
/// while pages are planned and taken, so they are taken in key order and never twice), then the state
/// lock (short, for reading and updating the values below).
final class SharedPages: @unchecked Sendable {
    // Sendable rule: `next` and `planned` are touched only with `handOutLock` held; `state` only
    // with `stateLock` held; `commitTurn` is only locked and unlocked.
    private let handOutLock = NSLock()
    private let stateLock = NSLock()
    private let commitTurn = NSLock()

    /// The keys of the input, both ends included.
    private let keys: ClosedRange<Int64>
    /// The checkpoint as the execution started: the keys a page may not cover again.
    private let gaps: KeyRangeCheckpoint
    /// The first key not planned yet; nil when every key has been.
    private var next: Int64?
    /// Pages planned and not yet handed out, in key order.
    private var planned: [ClosedRange<Int64>] = []
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

    /// Takes the next page's key range, planning more pages when none is left: the ranges of
    /// the next `limit` rows each, among the keys not yet handed out nor committed before this
    /// execution. Nil when none is left, or the step is ending.
    ///
    /// Planning asks the source for up to ``planAhead`` page ends at once, under the hand-out
    /// lock; the pages themselves are fetched by the threads that take them, outside it. A gap's
    /// last page covers the rest of the gap (up to the next range committed before this
    /// execution, or the end of the input), so the pages tile the keys.
    func takeRange<Source: KeyedPageSource>(_ source: Source, limit: Int, in chunk: ChunkContext) throws
        -> ClosedRange<Int64>?
    {
        handOutLock.lock()
        defer { handOutLock.unlock() }
        if withState({ $0.stopping || $0.failure != nil }) { return nil }
        if planned.isEmpty {
            try plan(source, limit: limit, in: chunk)
        }
        guard !planned.isEmpty else {
            withState { $0.allHandedOut = true }
            return nil
        }
        return planned.removeFirst()
    }

    /// Pages planned at once.
    static let planAhead = 64

    /// Fills `planned` with the pages of the next gap (or its first ``planAhead`` pages); leaves
    /// it empty when every key has been handed out.
    private func plan<Source: KeyedPageSource>(_ source: Source, limit: Int, in chunk: ChunkContext) throws {
        guard let from = next, let gap = gaps.firstGap(from: from, through: keys.upperBound) else {
            next = nil
            return
        }
        let ends = try source.pageEnds(in: gap, every: limit, pages: Self.planAhead, in: chunk)
        var pages: [ClosedRange<Int64>] = []
        var lower: Int64? = gap.lowerBound
        for end in ends {
            guard let start = lower, start <= end, end <= gap.upperBound, ends.count <= Self.planAhead else {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: prefix,
                    message: "asked where pages of \(limit) rows end in \(gap), the source answered \(ends), not ascending keys in it")
            }
            pages.append(start...end)
            lower = end == gap.upperBound ? nil : end + 1
        }
        if ends.count < Self.planAhead {
            // The rows of the gap ran out: its last page takes the rest of it.
            if let start = lower { pages.append(start...gap.upperBound) }
            next = gap.upperBound == keys.upperBound ? nil : gap.upperBound + 1
        } else {
            next = lower
        }
        planned = pages
    }

    /// Records a page that holds no rows as done, with no commit of its own: the next commit (or
    /// the step's last save) saves it with the checkpoint.
    func markEmpty(_ page: ClosedRange<Int64>) {
        commitTurn.lock()
        withState { $0.checkpoint.insert(page) }
        commitTurn.unlock()
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
            // Empty pages marked done since the last commit.
            state.checkpoint.save(to: &execution.context, prefix: prefix)
            return (execution, state.failure, state.allHandedOut)
        }
    }
}
