/// Something that keeps its restart position in the step's ``ExecutionContext``.
///
/// The step calls ``open(_:)`` once before the first chunk (with the context saved by the last
/// committed chunk of an earlier run, or an empty one), ``update(_:)`` just before every chunk
/// commits (the context is saved in the same transaction as the chunk's output), and
/// ``close()`` when the step ends, whatever its outcome.
///
/// `update` receives the context as the last committed chunk saved it. When a chunk is
/// retried after its transaction rolled back (its commit failed after `update` ran), `update`
/// is called again with that same context, not with what the failed attempt wrote into it: a
/// stream can compare it with its own position to undo the failed attempt (the flat-file
/// writers cut their file back this way).
///
/// - Important: write to the context only what describes committed work. A position written
///   in `update` is where a restart resumes.
public protocol ItemStream: AnyObject {
    func open(_ context: ExecutionContext) throws
    func update(_ context: inout ExecutionContext) throws
    func close() throws
}

extension ItemStream {
    public func open(_ context: ExecutionContext) throws {}
    public func update(_ context: inout ExecutionContext) throws {}
    public func close() throws {}
}
