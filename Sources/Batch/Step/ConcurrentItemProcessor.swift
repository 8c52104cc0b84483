import Foundation

extension ItemProcessor where Self: Sendable, Input: Sendable, Output: Sendable {
    /// This processor, run on up to `maxConcurrent` items of a chunk at once (Spring Batch's
    /// `AsyncItemProcessor`): for processors that wait (a web service, a lookup) or burn CPU.
    ///
    ///     ChunkStep("enrich", commitInterval: 100) { _ in
    ///         (reader, Enricher().concurrent(maxConcurrent: 4), writer)
    ///     }
    ///
    /// The writer gets the outputs in the items' order; a failure is the failing item's (the
    /// skip policy, listeners and `batch_skipped_item` name that item); counts are those of a
    /// sequential run. The processor must be safe to call from several threads at once.
    public func concurrent(maxConcurrent: Int) -> ConcurrentItemProcessor<Self> {
        ConcurrentItemProcessor(self, maxConcurrent: maxConcurrent)
    }
}

/// Processes the items of each chunk on up to `maxConcurrent` threads: the step's own thread
/// and `maxConcurrent - 1` threads of its own, started at the first chunk and ended with the
/// processor (made fresh for every step execution). Never Swift's cooperative pool: processors
/// are synchronous and may block.
///
/// The whole chunk is processed before any result is looked at, so after a failure the
/// items behind the failing one have been processed too (their results are dropped with the
/// chunk): processors should be pure, as for retries.
public final class ConcurrentItemProcessor<Base: ItemProcessor & Sendable>: ItemProcessor
where Base.Input: Sendable, Base.Output: Sendable {
    public let base: Base
    public let maxConcurrent: Int
    private let pool: ProcessingPool

    public init(_ base: Base, maxConcurrent: Int) {
        precondition(maxConcurrent > 0, "maxConcurrent must be at least 1, not \(maxConcurrent)")
        self.base = base
        self.maxConcurrent = maxConcurrent
        self.pool = ProcessingPool(helpers: maxConcurrent - 1)
    }

    deinit {
        pool.shutdown()
    }

    public func process(_ item: Base.Input) throws -> Base.Output? {
        try base.process(item)
    }

    public func processChunk(_ items: [Base.Input]) -> [Result<Base.Output?, any Error>]? {
        let base = self.base
        guard items.count > 1, maxConcurrent > 1 else {
            return items.map { item in Result { try base.process(item) } }
        }
        let slots = ResultSlots<Result<Base.Output?, any Error>>(count: items.count)
        pool.run(count: items.count) { position in
            slots.set(position, Result { try base.process(items[position]) })
        }
        return slots.take()
    }
}

/// One result per item, written by several threads at distinct positions.
private final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    // Sendable rule: each position is written by one thread only, and read only after the pool
    // has seen every item finish (its lock orders those writes before the reads).
    private let buffer: UnsafeMutableBufferPointer<Value?>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    func set(_ position: Int, _ value: Value) { buffer[position] = value }

    func take() -> [Value] {
        buffer.map { value in
            guard let value else { preconditionFailure("an item was not processed") }
            return value
        }
    }
}

/// Threads that share the positions of one batch of work with the thread that hands it in.
final class ProcessingPool: @unchecked Sendable {
    // Sendable rule: every `var` is read and written only with `condition` locked.
    private let condition = NSCondition()
    private let helpers: Int
    private var started = false
    private var stopped = false
    private var work: (@Sendable (Int) -> Void)?
    private var next = 0
    private var count = 0
    private var finished = 0

    init(helpers: Int) {
        self.helpers = helpers
    }

    /// Calls `body` once for every position in `0..<count`, on this thread and the helpers,
    /// and returns when every call has returned.
    func run(count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        condition.lock()
        if !started {
            started = true
            for number in 0..<helpers {
                let thread = Thread { [self] in helperLoop() }
                thread.name = "processor-\(number + 1)"
                thread.start()
            }
        }
        work = body
        next = 0
        self.count = count
        finished = 0
        condition.broadcast()
        condition.unlock()

        drain()

        condition.lock()
        while finished < count { condition.wait() }
        work = nil
        condition.unlock()
    }

    /// Ends the helper threads once they are idle.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func helperLoop() {
        while true {
            condition.lock()
            while !stopped && (work == nil || next >= count) { condition.wait() }
            let stop = stopped
            condition.unlock()
            if stop { return }
            drain()
        }
    }

    /// Takes positions of the current work until none is left.
    private func drain() {
        while true {
            condition.lock()
            guard let work, next < count else {
                condition.unlock()
                return
            }
            let position = next
            next += 1
            condition.unlock()
            work(position)
            condition.lock()
            finished += 1
            if finished == count { condition.broadcast() }
            condition.unlock()
        }
    }
}
