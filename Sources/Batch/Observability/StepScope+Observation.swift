import Tracing

extension StepScope {
    /// The repository's ``JobRepositorySession/inChunkTransaction(_:_:)`` for this step, with
    /// the chunk observed: a span (a child of the step's or partition's), one sample of the
    /// chunk timer and the counters moved by what the commit saved (see ``StepObservation``).
    /// Steps call this rather than the session's own, so every chunk is observed alike.
    public func inChunkTransaction<Result>(
        _ execution: inout StepExecution,
        _ body: (any StepTransaction, inout StepExecution) throws -> Result
    ) throws -> (Result, jobStatus: BatchStatus) {
        observation.start(from: execution.counts)
        let span = InstrumentationSystem.tracer.startSpan("chunk", context: observation.serviceContext)
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let result = try session.inChunkTransaction(&execution, body)
            observation.committed(execution.counts, took: started.duration(to: clock.now))
            span.end()
            return result
        } catch {
            observation.rolledBack(took: started.duration(to: clock.now))
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
            span.end()
            throw error
        }
    }
}
