/// Hooks around a job execution. Listeners run on the job's thread; keep them quick.
public protocol JobListener: Sendable {
    func beforeJob(_ execution: JobExecution)
    func afterJob(_ execution: JobExecution)
}

extension JobListener {
    public func beforeJob(_ execution: JobExecution) {}
    public func afterJob(_ execution: JobExecution) {}
}

/// Hooks around a step execution, its chunks, its items and its skips; every hook has a
/// default that does nothing, so a listener implements only what it needs.
///
/// Item hooks receive items type-erased; they cost nothing when a step has no listener.
public protocol StepListener: Sendable {
    func beforeStep(_ execution: StepExecution)
    /// Called when the step ends; a non-nil result replaces the step's exit status.
    func afterStep(_ execution: StepExecution) -> ExitStatus?

    func beforeChunk(_ chunk: ChunkContext)
    /// Called after the chunk committed.
    func afterChunk(_ chunk: ChunkContext)
    /// Called after the chunk rolled back.
    func afterChunkError(_ chunk: ChunkContext, _ error: any Error)

    func afterRead(_ item: Any)
    func onReadError(_ error: any Error)
    func afterProcess(_ item: Any, result: Any?)
    func onProcessError(_ item: Any, _ error: any Error)
    func beforeWrite(_ items: [Any])
    func afterWrite(_ items: [Any])
    func onWriteError(_ items: [Any], _ error: any Error)

    /// Called for every skipped item, after its chunk committed.
    func onSkip(_ item: SkippedItem)
}

extension StepListener {
    public func beforeStep(_ execution: StepExecution) {}
    public func afterStep(_ execution: StepExecution) -> ExitStatus? { nil }
    public func beforeChunk(_ chunk: ChunkContext) {}
    public func afterChunk(_ chunk: ChunkContext) {}
    public func afterChunkError(_ chunk: ChunkContext, _ error: any Error) {}
    public func afterRead(_ item: Any) {}
    public func onReadError(_ error: any Error) {}
    public func afterProcess(_ item: Any, result: Any?) {}
    public func onProcessError(_ item: Any, _ error: any Error) {}
    public func beforeWrite(_ items: [Any]) {}
    public func afterWrite(_ items: [Any]) {}
    public func onWriteError(_ items: [Any], _ error: any Error) {}
    public func onSkip(_ item: SkippedItem) {}
}
