import Foundation

/// One attempt to run a job instance.
public struct JobExecution: Sendable {
    public var id: Int64
    public var instance: JobInstance
    public var parameters: JobParameters
    public var status: BatchStatus
    public var exitStatus: ExitStatus
    public var createTime: Date
    public var startTime: Date?
    public var endTime: Date?
    public var lastUpdated: Date?
    /// Optimistic-lock version, as in Spring Batch.
    public var version: Int64
    public var context: ExecutionContext

    public init(
        id: Int64, instance: JobInstance, parameters: JobParameters, status: BatchStatus,
        exitStatus: ExitStatus, createTime: Date, startTime: Date? = nil, endTime: Date? = nil,
        lastUpdated: Date? = nil, version: Int64 = 0, context: ExecutionContext = ExecutionContext()
    ) {
        self.id = id
        self.instance = instance
        self.parameters = parameters
        self.status = status
        self.exitStatus = exitStatus
        self.createTime = createTime
        self.startTime = startTime
        self.endTime = endTime
        self.lastUpdated = lastUpdated
        self.version = version
        self.context = context
    }

    public var jobName: String { instance.jobName }
}
