/// A batch job: a name, an ordered list of steps, and the parameters it takes.
///
///     let job = Job("nightly-import", parameters: [.required("file", .string)]) {
///         TaskletStep("truncate") { _, chunk in ...; return .finished }
///         ChunkStep("load", commitInterval: 500) { scope in (reader, processor, writer) }
///     }
///
/// A job may also be a ``Flow`` with conditional transitions, deciders and splits:
/// `Job("audit", flow: Flow { check.on("FAILED").to("repair"); ... })`.
///
/// A job holds definitions only; readers, writers and tasklets are made fresh for every
/// execution by the steps' factories, so a restart starts from clean objects and the saved
/// context.
public struct Job: Sendable {
    public let name: String
    public let summary: String
    /// Every step, in the order written (a flow's steps, its splits' flows' steps included).
    public let steps: [any Step]
    /// The job's flow; nil for a plain sequence of steps.
    public let flow: Flow?
    /// What is wrong with the definition (duplicate names, transitions to unknown steps,
    /// loops); a launch refuses such a job, naming them.
    public let definitionProblems: [String]
    /// Whether a FAILED or STOPPED instance may run again (Spring Batch's `restartable`).
    public let restartable: Bool
    public let parameterSpecs: [JobParameterSpec]
    /// Whether parameters the job does not declare are refused (true when it declares any).
    public let rejectsUnknownParameters: Bool
    public let listeners: [any JobListener]

    public init(
        _ name: String, summary: String = "", restartable: Bool = true,
        parameters: [JobParameterSpec] = [], rejectsUnknownParameters: Bool? = nil,
        listeners: [any JobListener] = [],
        @StepListBuilder steps: () -> [any Step]
    ) {
        self.init(
            name, summary, restartable, parameters, rejectsUnknownParameters, listeners,
            steps: steps(), flow: nil, problems: [])
        let names = self.steps.map(\.name)
        precondition(Set(names).count == names.count, "job \(name) has two steps of one name: \(names)")
        precondition(!self.steps.isEmpty, "job \(name) has no steps")
    }

    /// A job whose steps run as `flow` says: conditional transitions, deciders, splits.
    ///
    /// A bad flow (two elements of one name, a transition to an element the flow does not
    /// have, a loop) does not crash: ``definitionProblems`` names what is wrong and a launch
    /// is refused with them.
    public init(
        _ name: String, summary: String = "", restartable: Bool = true,
        parameters: [JobParameterSpec] = [], rejectsUnknownParameters: Bool? = nil,
        listeners: [any JobListener] = [], flow: Flow
    ) {
        self.init(
            name, summary, restartable, parameters, rejectsUnknownParameters, listeners,
            steps: flow.allSteps, flow: flow, problems: flow.definitionProblems())
    }

    private init(
        _ name: String, _ summary: String, _ restartable: Bool, _ parameters: [JobParameterSpec],
        _ rejectsUnknownParameters: Bool?, _ listeners: [any JobListener],
        steps: [any Step], flow: Flow?, problems: [String]
    ) {
        self.listeners = listeners
        self.name = name
        self.summary = summary
        self.restartable = restartable
        self.parameterSpecs = parameters
        self.rejectsUnknownParameters = rejectsUnknownParameters ?? !parameters.isEmpty
        self.steps = steps
        self.flow = flow
        self.definitionProblems = problems
    }
}

/// Collects a job's steps.
@resultBuilder
public enum StepListBuilder {
    public static func buildExpression(_ step: any Step) -> [any Step] { [step] }
    public static func buildBlock(_ steps: [any Step]...) -> [any Step] { steps.flatMap { $0 } }
    public static func buildOptional(_ steps: [any Step]?) -> [any Step] { steps ?? [] }
    public static func buildEither(first steps: [any Step]) -> [any Step] { steps }
    public static func buildEither(second steps: [any Step]) -> [any Step] { steps }
    public static func buildArray(_ steps: [[any Step]]) -> [any Step] { steps.flatMap { $0 } }
}
