/// A batch job: a name, an ordered list of steps, and the parameters it takes.
///
///     let job = Job("nightly-import", parameters: [.required("file", .string)]) {
///         TaskletStep("truncate") { _, chunk in ...; return .finished }
///         ChunkStep("load", commitInterval: 500) { scope in (reader, processor, writer) }
///     }
///
/// A job holds definitions only; readers, writers and tasklets are made fresh for every
/// execution by the steps' factories, so a restart starts from clean objects and the saved
/// context.
public struct Job: Sendable {
    public let name: String
    public let summary: String
    public let steps: [any Step]
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
        self.listeners = listeners
        self.name = name
        self.summary = summary
        self.restartable = restartable
        self.parameterSpecs = parameters
        self.rejectsUnknownParameters = rejectsUnknownParameters ?? !parameters.isEmpty
        self.steps = steps()
        let names = self.steps.map(\.name)
        precondition(Set(names).count == names.count, "job \(name) has two steps of one name: \(names)")
        precondition(!self.steps.isEmpty, "job \(name) has no steps")
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
