/// Why a job could not be launched, in words an operator can act on.
public struct JobLaunchError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case unknownJob, invalidParameters, alreadyComplete, alreadyRunning, notRestartable,
                abandoned, notFound, notRestartableState, invalidDefinition
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public static let unknownJob = Code(.unknownJob)
        public static let invalidParameters = Code(.invalidParameters)
        /// The job itself is badly defined (a flow's transition to an unknown step, ...).
        public static let invalidDefinition = Code(.invalidDefinition)
        public static let alreadyComplete = Code(.alreadyComplete)
        public static let alreadyRunning = Code(.alreadyRunning)
        public static let notRestartable = Code(.notRestartable)
        public static let abandoned = Code(.abandoned)
        /// The execution named by an operator command does not exist.
        public static let notFound = Code(.notFound)
        /// The execution is in a state the operator command cannot act on.
        public static let notRestartableState = Code(.notRestartableState)

        /// True for refusals of a well-formed request (the launch was fine, history says no).
        public var isRefusal: Bool {
            switch base {
            case .alreadyComplete, .alreadyRunning, .notRestartable, .abandoned, .notRestartableState: true
            default: false
            }
        }

        public var description: String { "\(base)" }
    }

    public var code: Code
    public var jobName: String
    /// The execution the refusal is about, if any.
    public var executionID: Int64?
    public var message: String

    public init(code: Code, jobName: String, executionID: Int64? = nil, message: String) {
        self.code = code
        self.jobName = jobName
        self.executionID = executionID
        self.message = message
    }

    public var description: String { message }

    static func refused(_ refusal: LaunchRefusal, jobName: String) -> JobLaunchError {
        switch refusal {
        case .alreadyComplete(let id):
            JobLaunchError(
                code: .alreadyComplete, jobName: jobName, executionID: id,
                message: "job \(jobName) is already complete for these parameters (execution \(id)): change the identifying parameters or use --next")
        case .alreadyRunning(let id, let launcher):
            JobLaunchError(
                code: .alreadyRunning, jobName: jobName, executionID: id,
                message: "job \(jobName) is already running for these parameters: execution \(id)"
                    + (launcher.map { ", launched by \($0)" } ?? "")
                    + " (watch it with `\(ApplicationName.current) status \(id)`, stop it with `\(ApplicationName.current) stop \(id)`)")
        case .notRestartable(let id):
            JobLaunchError(
                code: .notRestartable, jobName: jobName, executionID: id,
                message: "job \(jobName) is not restartable and already ran for these parameters (execution \(id)): change the identifying parameters or use --next")
        case .abandoned(let id):
            JobLaunchError(
                code: .abandoned, jobName: jobName, executionID: id,
                message: "execution \(id) of job \(jobName) was abandoned and cannot be restarted: change the identifying parameters or use --next")
        }
    }
}
