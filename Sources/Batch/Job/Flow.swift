/// A flow: steps, deciders and splits joined by transitions on exit codes, as Spring Batch's
/// flows have them.
///
///     Flow {
///         check.on("NEEDS REPAIR").to("repair")
///              .on("*").to("report")
///         repair                       // no transition: on to the next element when it completes
///         report
///     }
///
/// After each element the flow takes the transition whose pattern matches the element's exit
/// code, the most specific pattern first (see ``ExitCodePattern``). An element without
/// transitions goes on to the element written after it (or ends the flow, COMPLETED) when it
/// completes; when it fails, the flow fails. A step that ends STOPPED (an operator's stop) always
/// stops the flow, whatever its transitions, so a restart finishes it.
public struct Flow: Sendable {
    /// Names the flow in the job's execution context (its restart point); unique in a job.
    public let name: String
    public let elements: [FlowElement]
    /// Element index by name.
    let index: [String: Int]

    public init(_ name: String = "main", @FlowBuilder _ elements: () -> [FlowElement]) {
        self.name = name
        self.elements = elements()
        var index: [String: Int] = [:]
        for (position, element) in self.elements.enumerated() where index[element.name] == nil {
            index[element.name] = position
        }
        self.index = index
    }

    /// Every step of the flow and of its splits' flows, in the order written.
    public var allSteps: [any Step] {
        elements.flatMap { element -> [any Step] in
            switch element.node {
            case .step(let step): [step]
            case .decider: []
            case .split(let split): split.flows.flatMap(\.allSteps)
            }
        }
    }

    /// The flow as one line: `check [NEEDS REPAIR -> repair, * -> report] -> repair -> report`.
    public var summary: String {
        elements.enumerated().map { position, element in
            var text: String
            switch element.node {
            case .step(let step): text = step.name
            case .decider(let decider): text = "decide \(decider.name)"
            case .split(let split):
                text = "split \(split.name) (" + split.flows.map { "\($0.name): \($0.summary)" }.joined(separator: " | ") + ")"
            }
            if !element.transitions.isEmpty {
                text += " [" + element.transitions.map { "\($0.pattern) -> \($0.target)" }.joined(separator: ", ") + "]"
            }
            return position == elements.count - 1 || !element.transitions.isEmpty ? text + ";" : text + " ->"
        }.joined(separator: " ").trimmingSuffix(";")
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// One element of a flow: a step, a decider or a split, with its transitions.
public struct FlowElement: Sendable {
    public enum Node: Sendable {
        case step(any Step)
        case decider(Decider)
        case split(Split)
    }

    public let node: Node
    /// In the order written; the engine tries them most specific first.
    public let transitions: [Transition]

    public init(_ node: Node, transitions: [Transition] = []) {
        self.node = node
        self.transitions = transitions
    }

    public var name: String {
        switch node {
        case .step(let step): step.name
        case .decider(let decider): decider.name
        case .split(let split): split.name
        }
    }

    /// Starts a transition taken when this element's exit code matches `pattern` (`*` matches
    /// any run of characters, `?` one character).
    public func on(_ pattern: String) -> TransitionBuilder {
        TransitionBuilder(element: self, pattern: ExitCodePattern(pattern))
    }

    /// The transitions, most specific pattern first.
    var transitionsBySpecificity: [Transition] {
        transitions.enumerated().sorted { lhs, rhs in
            let (a, b) = (lhs.element.pattern, rhs.element.pattern)
            return a.isMoreSpecific(than: b) || (!b.isMoreSpecific(than: a) && lhs.offset < rhs.offset)
        }.map(\.element)
    }
}

/// Where a transition leads.
public enum FlowTarget: Sendable, CustomStringConvertible {
    /// Another element of the same flow.
    case element(String)
    /// Ends the flow COMPLETED, with this exit code.
    case end(exitCode: String)
    /// Ends the flow FAILED, with this exit code; a restart runs the element the transition
    /// left again, even a completed step.
    case fail(exitCode: String)
    /// Ends the flow STOPPED; a restart passes this stop once and goes on at the named element.
    case stop(restartAt: String)

    public var description: String {
        switch self {
        case .element(let name): name
        case .end(let code): code == "COMPLETED" ? "end" : "end \(code)"
        case .fail(let code): code == "FAILED" ? "fail" : "fail \(code)"
        case .stop(let restartAt): "stop (restart at \(restartAt))"
        }
    }
}

/// A transition: an exit code pattern and where it leads.
public struct Transition: Sendable {
    public let pattern: ExitCodePattern
    public let target: FlowTarget
}

/// Completes `element.on(pattern)` with where to go.
public struct TransitionBuilder: Sendable {
    let element: FlowElement
    let pattern: ExitCodePattern

    private func adding(_ target: FlowTarget) -> FlowElement {
        FlowElement(element.node, transitions: element.transitions + [Transition(pattern: pattern, target: target)])
    }

    /// Goes on to the element of this flow named `name`.
    public func to(_ name: String) -> FlowElement { adding(.element(name)) }
    /// Ends the flow (the job, at the top level) COMPLETED.
    public func end(exitCode: String = "COMPLETED") -> FlowElement { adding(.end(exitCode: exitCode)) }
    /// Ends the flow (the job, at the top level) FAILED; a restart runs this element again.
    public func fail(exitCode: String = "FAILED") -> FlowElement { adding(.fail(exitCode: exitCode)) }
    /// Ends the flow (the job, at the top level) STOPPED; a restart goes on at `restartAt`.
    public func stop(restartAt: String) -> FlowElement { adding(.stop(restartAt: restartAt)) }
}

extension Step {
    /// Starts a transition taken when this step's exit code matches `pattern`.
    public func on(_ pattern: String) -> TransitionBuilder { FlowElement(.step(self)).on(pattern) }
}

/// A pattern over exit codes, as Spring Batch writes them: `*` matches any run of characters
/// (none included), `?` exactly one; anything else matches itself.
///
/// Specificity, when several patterns match: fewer `*` first, then fewer `?`, then the longer
/// pattern; ties go to the transition written first. So `COMPLETED WITH SKIPS` beats
/// `COMPLETED*`, which beats `*`.
public struct ExitCodePattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) { self.text = text }

    public var description: String { text }

    public func matches(_ code: String) -> Bool {
        Self.matches(Array(text.unicodeScalars)[...], Array(code.unicodeScalars)[...])
    }

    private static func matches(_ pattern: ArraySlice<Unicode.Scalar>, _ code: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = pattern.first else { return code.isEmpty }
        switch first {
        case "*":
            let rest = pattern.dropFirst()
            var candidate = code
            while true {
                if matches(rest, candidate) { return true }
                guard !candidate.isEmpty else { return false }
                candidate = candidate.dropFirst()
            }
        case "?":
            return !code.isEmpty && matches(pattern.dropFirst(), code.dropFirst())
        default:
            return code.first == first && matches(pattern.dropFirst(), code.dropFirst())
        }
    }

    func isMoreSpecific(than other: ExitCodePattern) -> Bool {
        let mine = (text.count { $0 == "*" }, text.count { $0 == "?" }, -text.count)
        let theirs = (other.text.count { $0 == "*" }, other.text.count { $0 == "?" }, -other.text.count)
        return mine < theirs
    }
}

/// A branch point without a step: returns an exit code from the job's state, and the flow
/// takes the transition that matches it. Deciders are not recorded in the repository; a
/// restart walks the flow again and they decide again.
///
///     Decider("size?") { decision in
///         (decision.parameters.long("rows") ?? 0) > 1_000_000 ? "BIG" : "SMALL"
///     }
///     .on("BIG").to("partitioned-load")
///     .on("*").to("simple-load")
public struct Decider: Sendable {
    public let name: String
    let decide: @Sendable (Decision) throws -> String

    /// - Parameters:
    ///   - name: names the decider in logs, failures and the flow's description; it must be
    ///     unique among the job's steps, deciders and splits.
    ///   - decide: returns the exit code to route on; throwing fails the flow here (a
    ///     restart decides again).
    public init(_ name: String, _ decide: @escaping @Sendable (Decision) throws -> String) {
        self.name = name
        self.decide = decide
    }

    public func on(_ pattern: String) -> TransitionBuilder { FlowElement(.decider(self)).on(pattern) }
}

/// What a decider may look at.
public struct Decision {
    public let jobExecution: JobExecution
    /// The exit status of the element before the decider in its flow (nil at the flow's start).
    public let previousExitStatus: ExitStatus?
    /// The last step execution before the decider in its flow, if any (it may be one of an
    /// earlier execution of the instance, when that step completed then and was not run again).
    public let previousStep: StepExecution?
    let session: any JobRepositorySession

    public var parameters: JobParameters { jobExecution.parameters }

    /// The newest execution of a step of this job instance (this execution or an earlier one).
    public func stepExecution(named name: String) throws -> StepExecution? {
        try session.lastStepExecution(jobInstanceID: jobExecution.instance.id, stepName: name)
    }
}

/// Flows that run at the same time, each on a thread and a repository connection of its own,
/// joined before the flow goes on. Its status is the worst of theirs (FAILED over STOPPED over
/// COMPLETED); on a restart a flow that completed runs none of its steps again, a failed one
/// runs its failed step again from its checkpoint and goes on.
///
///     Split("load") {
///         Flow("eur") { loadEUR; checkEUR }
///         Flow("usd") { loadUSD }
///     }
public struct Split: Sendable {
    public let name: String
    public let flows: [Flow]

    public init(_ name: String, @SplitBuilder flows: () -> [Flow]) {
        self.name = name
        self.flows = flows()
    }

    public func on(_ pattern: String) -> TransitionBuilder { FlowElement(.split(self)).on(pattern) }
}

/// Collects a flow's elements: steps, deciders, splits, and any of them with transitions.
@resultBuilder
public enum FlowBuilder {
    public static func buildExpression(_ step: any Step) -> [FlowElement] { [FlowElement(.step(step))] }
    public static func buildExpression(_ element: FlowElement) -> [FlowElement] { [element] }
    public static func buildExpression(_ decider: Decider) -> [FlowElement] { [FlowElement(.decider(decider))] }
    public static func buildExpression(_ split: Split) -> [FlowElement] { [FlowElement(.split(split))] }
    public static func buildBlock(_ parts: [FlowElement]...) -> [FlowElement] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [FlowElement]?) -> [FlowElement] { part ?? [] }
    public static func buildEither(first part: [FlowElement]) -> [FlowElement] { part }
    public static func buildEither(second part: [FlowElement]) -> [FlowElement] { part }
    public static func buildArray(_ parts: [[FlowElement]]) -> [FlowElement] { parts.flatMap { $0 } }
}

/// Collects a split's flows.
@resultBuilder
public enum SplitBuilder {
    public static func buildExpression(_ flow: Flow) -> [Flow] { [flow] }
    public static func buildBlock(_ parts: [Flow]...) -> [Flow] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [Flow]?) -> [Flow] { part ?? [] }
    public static func buildEither(first part: [Flow]) -> [Flow] { part }
    public static func buildEither(second part: [Flow]) -> [Flow] { part }
    public static func buildArray(_ parts: [[Flow]]) -> [Flow] { parts.flatMap { $0 } }
}
