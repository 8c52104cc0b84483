import Batch
import Synchronization

/// The failure a ``FlowScript`` step was told to have.
public struct ScriptedFailure: Error, CustomStringConvertible {
    public var step: String
    public init(step: String) { self.step = step }
    public var description: String { "step \(step) was told to fail" }
}

/// Steps whose outcome a test scripts (exit code, failure) and which record that they ran.
public final class FlowScript: Sendable {
    private struct State {
        var trail: [String] = []
        var exitCodes: [String: String] = [:]
        var failing: Set<String> = []
    }
    private let state = Mutex(State())

    public init() {}

    /// The steps that ran, in the order they started (threads of a split interleave).
    public var trail: [String] { state.withLock { $0.trail } }

    public func clearTrail() { state.withLock { $0.trail = [] } }
    public func exit(_ step: String, with code: String?) { state.withLock { $0.exitCodes[step] = code } }
    public func fail(_ steps: String...) { state.withLock { $0.failing.formUnion(steps) } }
    public func cure() { state.withLock { $0.failing = [] } }

    /// A tasklet step that records itself, then fails or ends with the scripted exit code.
    public func step(_ name: String, body: (@Sendable () throws -> Void)? = nil) -> TaskletStep {
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
