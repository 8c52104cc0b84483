import Dispatch
import Foundation
import Synchronization

/// A processor that awaits: it calls other services (an HTTP client, a gRPC stub, a cloud SDK)
/// with `async` APIs. A chunk step runs it through ``AsyncChunkProcessor``:
///
///     struct Pricer: AsyncItemProcessor {
///         let client: PricingClient
///         func process(_ order: Order) async throws -> PricedOrder? {
///             PricedOrder(order, price: try await client.price(order.sku))
///         }
///     }
///
///     ChunkStep("price", commitInterval: 100) { _ in
///         (reader, Pricer(client: client).inChunks(maxInFlight: 16), writer)
///     }
///
/// Return nil to filter an item out. Throw to fail it: the error is that item's (the skip
/// policy, listeners and `batch_skipped_item` name it). Processing happens before the chunk's
/// transaction begins, so a slow service never holds a transaction open.
public protocol AsyncItemProcessor<Input, Output>: Sendable {
    associatedtype Input: Sendable
    associatedtype Output: Sendable
    func process(_ item: Input) async throws -> Output?
}

extension AsyncItemProcessor {
    /// This processor, awaited on up to `maxInFlight` items of each chunk at once.
    ///
    /// - Parameters:
    ///   - maxInFlight: the most items awaited at once (1 processes them one by one).
    ///   - timeout: how long one item may take; past it the item fails with
    ///     ``AsyncProcessingTimeout`` (nil: no limit of its own; the service's client should
    ///     then have one).
    public func inChunks(maxInFlight: Int = 16, timeout: Duration? = nil) -> AsyncChunkProcessor<Self> {
        AsyncChunkProcessor(self, maxInFlight: maxInFlight, timeout: timeout)
    }
}

/// An item took longer than its processor's timeout.
public struct AsyncProcessingTimeout: Error, CustomStringConvertible {
    public var timeout: Duration
    public var description: String {
        "processing the item took longer than its timeout of \(timeout.inSeconds) s"
    }
}

/// Runs an ``AsyncItemProcessor`` from a chunk step (a synchronous ``ItemProcessor``): each
/// chunk's items are awaited in a task group, at most `maxInFlight` at once, while the step's
/// thread (its own, never the cooperative pool) waits for the chunk's results.
///
/// The writer gets the outputs in the items' order. When the step is interrupted (a worker
/// shutting down), the items in flight are cancelled, the chunk is not committed and the step
/// stops at its last commit. Processors should be pure (an item may be processed again on a
/// retry or a restart).
public final class AsyncChunkProcessor<Base: AsyncItemProcessor>: ItemProcessor {
    public let base: Base
    public let maxInFlight: Int
    public let timeout: Duration?

    public init(_ base: Base, maxInFlight: Int = 16, timeout: Duration? = nil) {
        precondition(maxInFlight > 0, "maxInFlight must be at least 1, not \(maxInFlight)")
        self.base = base
        self.maxInFlight = maxInFlight
        self.timeout = timeout
    }

    public func process(_ item: Base.Input) throws -> Base.Output? {
        try run([item], interruption: nil)[0].get()
    }

    public func processChunk(_ items: [Base.Input]) -> [Result<Base.Output?, any Error>]? {
        run(items, interruption: nil)
    }

    public func processChunk(_ items: [Base.Input], in chunk: ChunkContext) -> [Result<Base.Output?, any Error>]? {
        run(items, interruption: { chunk.isInterrupted })
    }

    /// How often a waiting step thread looks for an interruption.
    static var interruptionPoll: DispatchTimeInterval { .milliseconds(100) }

    private func run(_ items: [Base.Input], interruption: (() -> Bool)?) -> [Result<Base.Output?, any Error>] {
        guard !items.isEmpty else { return [] }
        let outcome = ChunkOutcome<Base.Output>(count: items.count)
        let done = DispatchSemaphore(value: 0)
        let base = self.base
        let limit = min(maxInFlight, items.count)
        let timeout = self.timeout
        let task = Task.detached {
            await AsyncChunkProcessor<Base>.processAll(items, with: base, limit: limit, timeout: timeout, into: outcome)
            done.signal()
        }
        // The step's own thread waits; it cancels the chunk's tasks if the step is interrupted,
        // then waits for them to end (a cancelled task ends as soon as what it awaits does).
        while done.wait(timeout: .now() + Self.interruptionPoll) == .timedOut {
            if interruption?() == true { task.cancel() }
        }
        return outcome.take()
    }

    /// Processes `items`, at most `limit` at once, until done or cancelled.
    private static func processAll(
        _ items: [Base.Input], with base: Base, limit: Int, timeout: Duration?, into outcome: ChunkOutcome<Base.Output>
    ) async {
        await withTaskGroup(of: Void.self) { group in
            var next = 0
            while next < items.count {
                if next >= limit {
                    // One in flight must end before the next starts.
                    await group.next()
                    if Task.isCancelled { break }
                }
                let item = items[next]
                let position = next
                group.addTask {
                    let result: Result<Base.Output?, any Error>
                    do {
                        result = .success(try await process(item, with: base, timeout: timeout))
                    } catch {
                        result = .failure(error)
                    }
                    outcome.set(position, result)
                }
                next += 1
            }
        }
    }

    private static func process(_ item: Base.Input, with base: Base, timeout: Duration?) async throws -> Base.Output? {
        guard let timeout else { return try await base.process(item) }
        return try await withThrowingTaskGroup(of: Base.Output?.self) { group in
            group.addTask { try await base.process(item) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw AsyncProcessingTimeout(timeout: timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// The results of one chunk, filled in by its tasks; a position never filled (the chunk was
/// cancelled before it started) is a CancellationError.
final class ChunkOutcome<Output: Sendable>: Sendable {
    private let results: Mutex<[Result<Output?, any Error>?]>

    init(count: Int) {
        results = Mutex(Array(repeating: nil, count: count))
    }

    func set(_ position: Int, _ result: Result<Output?, any Error>) {
        results.withLock { $0[position] = result }
    }

    func take() -> [Result<Output?, any Error>] {
        results.withLock { $0.map { $0 ?? .failure(CancellationError()) } }
    }
}
