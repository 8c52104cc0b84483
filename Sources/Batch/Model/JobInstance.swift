/// A job run for one set of identifying parameters: its name and key are unique in the
/// repository, and every launch with the same ones is a new execution of the same instance.
public struct JobInstance: Sendable, Hashable {
    public var id: Int64
    public var jobName: String
    /// The MD5 of the identifying parameters' canonical form (``JobParameters/jobKey``).
    public var jobKey: String

    public init(id: Int64, jobName: String, jobKey: String) {
        self.id = id
        self.jobName = jobName
        self.jobKey = jobKey
    }
}
