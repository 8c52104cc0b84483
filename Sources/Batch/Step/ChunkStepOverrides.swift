/// Job parameters that override a chunk step's commit interval and skip limit: the same rules
/// for every kind of chunk step.
enum ChunkStepOverrides {
    /// `configured`, unless the long job parameter `parameter` is given (1 to 1,000,000).
    static func commitInterval(_ configured: Int, parameter: String?, in parameters: JobParameters) throws -> Int {
        guard let parameter, let value = parameters.long(parameter) else { return configured }
        guard value > 0, value <= 1_000_000 else {
            throw InvalidStepParameter(description: "parameter \(parameter) must be between 1 and 1000000, not \(value)")
        }
        return Int(value)
    }

    /// `configured`, with its limit replaced by the long job parameter `parameter` if given.
    static func skipPolicy(_ configured: SkipPolicy, parameter: String?, in parameters: JobParameters) throws -> SkipPolicy {
        guard let parameter, let value = parameters.long(parameter) else { return configured }
        guard value >= 0, value <= Int64(Int32.max) else {
            throw InvalidStepParameter(description: "parameter \(parameter) must be 0 or more, not \(value)")
        }
        var policy = configured
        policy.limit = Int(value)
        return policy
    }
}
