/// The transaction of a chunk (or a tasklet call) on an ``InMemoryJobRepository``: it stages
/// the chunk's skips and its writers' ``onCommit(_:)`` actions, which the repository applies
/// together with the chunk's checkpoint and counts, or drops with them.
///
/// Used by one thread, the one running the chunk; it is over once the chunk commits or rolls
/// back.
public final class InMemoryStepTransaction: StepTransaction {
    private var skips: [SkippedItem] = []
    private var actions: [@Sendable () -> Void] = []

    init() {}

    /// Runs `action` when the chunk commits, as part of the commit: a writer's output becomes
    /// visible exactly when the chunk's checkpoint does. Dropped if the chunk rolls back, or if
    /// the savepoint it was staged in (a write the step isolates to skip an item) is rolled back.
    ///
    /// - Important: the action runs while the repository is locked: it must be quick, must not
    ///   throw or block, and must not call the repository. Check what can fail (a duplicate
    ///   key, say) when writing, and throw there.
    public func onCommit(_ action: @escaping @Sendable () -> Void) {
        actions.append(action)
    }

    public func withSavepoint<Result>(_ body: () throws -> Result) throws -> Result {
        let (skipCount, actionCount) = (skips.count, actions.count)
        do {
            return try body()
        } catch {
            skips.removeSubrange(skipCount...)
            actions.removeSubrange(actionCount...)
            throw error
        }
    }

    public func recordSkip(_ item: SkippedItem) throws {
        skips.append(item)
    }

    /// What the chunk staged, for the commit.
    func finish() -> (skips: [SkippedItem], actions: [@Sendable () -> Void]) {
        (skips, actions)
    }
}

extension ChunkContext {
    /// The chunk's transaction, when the job repository is the in-memory one.
    ///
    /// - Throws: when the step runs on another kind of repository.
    public func inMemoryTransaction() throws -> InMemoryStepTransaction {
        guard let transaction = transaction as? InMemoryStepTransaction else {
            throw InMemoryJobRepositoryError(
                message: "this reader or writer needs the in-memory job repository's transaction, not \(type(of: transaction))")
        }
        return transaction
    }
}
