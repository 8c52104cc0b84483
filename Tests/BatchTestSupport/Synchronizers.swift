import Foundation
import Synchronization

/// Lets `parties` threads through only together: each `arrive()` waits until all have arrived,
/// or fails after `timeout` (so a test that should overlap work fails instead of hanging).
public final class Rendezvous: @unchecked Sendable {
    // Sendable rule: `arrived` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var arrived = 0
    public let parties: Int
    public let timeout: TimeInterval

    public init(parties: Int, timeout: TimeInterval = 30) {
        self.parties = parties
        self.timeout = timeout
    }

    public struct Missed: Error, CustomStringConvertible {
        public var arrived: Int
        public var parties: Int
        public var description: String { "only \(arrived) of \(parties) parties ran at the same time" }
    }

    public func arrive() throws {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while arrived < parties {
            guard condition.wait(until: deadline) else { throw Missed(arrived: arrived, parties: parties) }
        }
    }
}

/// A one-shot gate for threads: `wait()` blocks until `open()`.
public final class Gate: @unchecked Sendable {
    // Sendable rule: `isOpen` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var isOpen = false

    public init() {}

    public func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until opened, or `timeout`; true when opened.
    @discardableResult
    public func wait(timeout: TimeInterval = 60) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !isOpen {
            guard condition.wait(until: deadline) else { return false }
        }
        return true
    }
}

/// A lock-protected value for tests.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result { try mutex.withLock { try body(&$0) } }
}
