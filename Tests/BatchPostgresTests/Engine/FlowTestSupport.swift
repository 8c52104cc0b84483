import Batch
import Foundation
import Synchronization

struct ScriptedFailure: Error, CustomStringConvertible {
    var step: String
    var description: String { "step \(step) was told to fail" }
}

/// Steps whose outcome a test scripts (exit code, failure) and which record that they ran.
final class FlowScript: Sendable {
    private struct State {
        var trail: [String] = []
        var exitCodes: [String: String] = [:]
        var failing: Set<String> = []
    }
    private let state = Mutex(State())

    /// The steps that ran, in the order they started (threads of a split interleave).
    var trail: [String] { state.withLock { $0.trail } }

    func clearTrail() { state.withLock { $0.trail = [] } }
    func exit(_ step: String, with code: String?) { state.withLock { $0.exitCodes[step] = code } }
    func fail(_ steps: String...) { state.withLock { $0.failing.formUnion(steps) } }
    func cure() { state.withLock { $0.failing = [] } }

    /// A tasklet step that records itself, then fails or ends with the scripted exit code.
    func step(_ name: String, body: (@Sendable () throws -> Void)? = nil) -> TaskletStep {
        TaskletStep(name) { [self] contribution, _ in
            let (failing, code) = state.withLock { state in
                state.trail.append(name)
                return (state.failing.contains(name), state.exitCodes[name])
            }
            try body?()
            if failing { throw ScriptedFailure(step: name) }
            contribution.exitStatus = code.map { ExitStatus(exitCode: $0) }
            return .finished
        }
    }
}

/// Lets `parties` threads through only together: each `arrive()` waits until all have arrived,
/// or fails after `timeout` (so a test that should overlap work fails instead of hanging).
final class Rendezvous: @unchecked Sendable {
    // Sendable rule: `arrived` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var arrived = 0
    let parties: Int
    let timeout: TimeInterval

    init(parties: Int, timeout: TimeInterval = 30) {
        self.parties = parties
        self.timeout = timeout
    }

    struct Missed: Error, CustomStringConvertible {
        var arrived: Int
        var parties: Int
        var description: String { "only \(arrived) of \(parties) parties ran at the same time" }
    }

    func arrive() throws {
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

/// Hands out `range`, checkpointing the next number to read.
final class RangeReader: ItemReader {
    let range: ClosedRange<Int64>
    private var next: Int64
    init(_ range: ClosedRange<Int64>) {
        self.range = range
        next = range.lowerBound
    }
    func open(_ context: ExecutionContext) throws { next = context.int("range.next") ?? range.lowerBound }
    func update(_ context: inout ExecutionContext) throws { context["range.next"] = .int(next) }
    func read(in chunk: ChunkContext) throws -> Int64? {
        guard next <= range.upperBound else { return nil }
        defer { next += 1 }
        return next
    }
}
