import Foundation

/// A thread of its own that runs submitted work in order, for code that blocks (libpq).
///
/// Swift's cooperative pool has one thread per core (two here); a blocking call there stalls
/// every task in the process. Work sent to a `DedicatedThread` blocks only this thread.
public final class DedicatedThread: Sendable {
    private let queue = JobQueue()

    /// Starts the thread.
    /// - Parameter name: shown in debuggers and `top -H`.
    public init(name: String) {
        let thread = Thread { [queue] in queue.runLoop() }
        thread.name = name
        thread.start()
    }

    deinit {
        queue.shutdown()
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    ///
    /// - Throws: the error `body` threw, or `CancellationError` if the thread was shut down.
    @discardableResult
    public func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws
        -> Result
    {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = queue.submit {
                continuation.resume(with: Swift.Result { try body() })
            }
            if !accepted { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Queues `job`; returns false when the thread has been shut down.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        queue.submit(job)
    }

    /// Lets queued work finish, then ends the thread. Later submissions are refused.
    public func shutdown() {
        queue.shutdown()
    }
}

/// The jobs of one thread. The thread holds it strongly, so it outlives its `DedicatedThread`
/// until the last job ran.
private final class JobQueue: @unchecked Sendable {
    // Sendable rule: `jobs` and `isShutDown` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var isShutDown = false

    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isShutDown else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    func shutdown() {
        condition.lock()
        isShutDown = true
        condition.signal()
        condition.unlock()
    }

    func runLoop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !isShutDown {
                condition.wait()
            }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job() }
        }
    }
}
