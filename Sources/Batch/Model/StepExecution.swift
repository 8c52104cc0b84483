import Foundation

/// The counts Spring Batch keeps for a step execution.
public struct StepCounts: Sendable, Hashable, Codable {
    public var read: Int64 = 0
    public var write: Int64 = 0
    public var filter: Int64 = 0
    public var readSkip: Int64 = 0
    public var processSkip: Int64 = 0
    public var writeSkip: Int64 = 0
    public var commit: Int64 = 0
    public var rollback: Int64 = 0

    public init() {}

    public init(
        read: Int64 = 0, write: Int64 = 0, filter: Int64 = 0, readSkip: Int64 = 0,
        processSkip: Int64 = 0, writeSkip: Int64 = 0, commit: Int64 = 0, rollback: Int64 = 0
    ) {
        self.read = read
        self.write = write
        self.filter = filter
        self.readSkip = readSkip
        self.processSkip = processSkip
        self.writeSkip = writeSkip
        self.commit = commit
        self.rollback = rollback
    }

    /// All skips, whatever the phase.
    public var skip: Int64 { readSkip + processSkip + writeSkip }

    public static func + (lhs: StepCounts, rhs: StepCounts) -> StepCounts {
        StepCounts(
            read: lhs.read + rhs.read, write: lhs.write + rhs.write, filter: lhs.filter + rhs.filter,
            readSkip: lhs.readSkip + rhs.readSkip, processSkip: lhs.processSkip + rhs.processSkip,
            writeSkip: lhs.writeSkip + rhs.writeSkip, commit: lhs.commit + rhs.commit,
            rollback: lhs.rollback + rhs.rollback)
    }

    public static func += (lhs: inout StepCounts, rhs: StepCounts) { lhs = lhs + rhs }
}

/// One attempt to run a step within a job execution.
public struct StepExecution: Sendable {
    public var id: Int64
    public var jobExecutionID: Int64
    public var stepName: String
    public var status: BatchStatus
    public var exitStatus: ExitStatus
    public var counts: StepCounts
    public var createTime: Date
    public var startTime: Date?
    public var endTime: Date?
    public var lastUpdated: Date?
    /// Optimistic-lock version: every save checks and increments it.
    public var version: Int64
    /// Where the step's readers and writers are: saved with every chunk.
    public var context: ExecutionContext

    public init(
        id: Int64, jobExecutionID: Int64, stepName: String, status: BatchStatus = .starting,
        exitStatus: ExitStatus = .executing, counts: StepCounts = StepCounts(), createTime: Date,
        startTime: Date? = nil, endTime: Date? = nil, lastUpdated: Date? = nil, version: Int64 = 0,
        context: ExecutionContext = ExecutionContext()
    ) {
        self.id = id
        self.jobExecutionID = jobExecutionID
        self.stepName = stepName
        self.status = status
        self.exitStatus = exitStatus
        self.counts = counts
        self.createTime = createTime
        self.startTime = startTime
        self.endTime = endTime
        self.lastUpdated = lastUpdated
        self.version = version
        self.context = context
    }
}
