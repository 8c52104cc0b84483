import Dispatch
import Synchronization

/// A writer that awaits: it sends a chunk's items to another service (a message broker, an
/// HTTP API). A chunk step runs it through ``AsyncChunkWriter``:
///
///     struct Publisher: AsyncItemWriter {
///         let broker: BrokerClient
///         func write(_ events: [Event]) async throws { try await broker.publish(events) }
///     }
///
///     ChunkStep("publish", commitInterval: 500) { _ in (reader, Publisher(broker: broker).inChunks()) }
///
/// A service outside the job repository's database cannot commit with the chunk's checkpoint:
/// the writes are at least once (a chunk written just before a crash is written again by the
/// restart), so the service should accept repeats (an idempotency key per item, say).
public protocol AsyncItemWriter<Item>: Sendable {
    associatedtype Item: Sendable
    func write(_ items: [Item]) async throws
}

extension AsyncItemWriter {
    /// This writer, awaited once per chunk from the chunk step's thread.
    public func inChunks() -> AsyncChunkWriter<Self> {
        AsyncChunkWriter(self)
    }
}

/// Runs an ``AsyncItemWriter`` from a chunk step: the step's own thread (never the cooperative
/// pool) waits for each chunk's write; an interrupted step (a worker shutting down) cancels it.
public final class AsyncChunkWriter<Base: AsyncItemWriter>: ItemWriter {
    public let base: Base

    public init(_ base: Base) {
        self.base = base
    }

    public func write(_ items: [Base.Item], in chunk: ChunkContext) throws {
        guard !items.isEmpty else { return }
        let outcome = WriteOutcome()
        let done = DispatchSemaphore(value: 0)
        let base = self.base
        let task = Task.detached {
            await AsyncChunkWriter<Base>.write(items, with: base, into: outcome)
            done.signal()
        }
        while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if chunk.isInterrupted { task.cancel() }
        }
        if let error = outcome.error { throw error }
    }

    private static func write(_ items: [Base.Item], with base: Base, into outcome: WriteOutcome) async {
        do {
            try await base.write(items)
        } catch {
            outcome.fail(error)
        }
    }
}

/// The error of one awaited write, if it failed.
final class WriteOutcome: Sendable {
    private let failure = Mutex<(any Error)?>(nil)

    func fail(_ error: any Error) { failure.withLock { $0 = error } }
    var error: (any Error)? { failure.withLock { $0 } }
}
