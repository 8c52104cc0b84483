/// The typed value of a job parameter: the four types Spring Batch's repository stores.
///
/// Integers are always 64-bit (`java.lang.Integer` input becomes ``long(_:)``), and dates keep
/// their kind (calendar date, local date-time, instant); see ``JobParameterDate``.
public enum JobParameterValue: Sendable, Hashable, CustomStringConvertible {
    /// Text, stored as `java.lang.String`.
    case string(String)
    /// A 64-bit integer, stored as `java.lang.Long`.
    case long(Int64)
    /// A double, stored as `java.lang.Double`. Keep it finite: NaN is not equal to itself, so a
    /// parameter holding it never matches its own job instance in memory.
    case double(Double)
    /// A date, date-time or instant, stored as `java.time.LocalDate`, `java.time.LocalDateTime`
    /// or `java.util.Date` according to its kind.
    case date(JobParameterDate)

    /// The value's text as stored in `parameter_value`; see ``JobParameter/storageValue``.
    public var description: String {
        JobParameter(self).storageValue
    }
}

/// One job parameter: a typed value, and whether it identifies the job instance.
///
/// Identifying parameters (the default) form the instance key: launching a job with the same
/// identifying parameters continues or restarts the same instance, never a new one. Make a
/// parameter non-identifying when it only tunes a run (a chunk size, a log level) and must not
/// turn a restart into a fresh instance.
public struct JobParameter: Sendable, Hashable, CustomStringConvertible {
    /// The typed value.
    public let value: JobParameterValue
    /// Whether the parameter is part of the job instance's identity (see ``JobParameters/jobKey``).
    public let identifying: Bool

    /// Creates a parameter.
    ///
    /// - Parameters:
    ///   - value: The typed value.
    ///   - identifying: Whether it is part of the job instance's identity; `true` by default, as in
    ///     Spring Batch.
    public init(_ value: JobParameterValue, identifying: Bool = true) {
        self.value = value
        self.identifying = identifying
    }

    /// A text parameter.
    public static func string(_ value: String, identifying: Bool = true) -> JobParameter {
        JobParameter(.string(value), identifying: identifying)
    }

    /// A 64-bit integer parameter.
    public static func long(_ value: Int64, identifying: Bool = true) -> JobParameter {
        JobParameter(.long(value), identifying: identifying)
    }

    /// A double parameter; keep it finite (see ``JobParameterValue/double(_:)``).
    public static func double(_ value: Double, identifying: Bool = true) -> JobParameter {
        JobParameter(.double(value), identifying: identifying)
    }

    /// A date, date-time or instant parameter.
    public static func date(_ value: JobParameterDate, identifying: Bool = true) -> JobParameter {
        JobParameter(.date(value), identifying: identifying)
    }

    /// The parameter in Spring Batch's notation without its name: `value,type,identifying`,
    /// e.g. `1000,java.lang.Long,true`.
    public var description: String {
        "\(storageValue),\(storageType),\(identifying)"
    }

    /// The full command-line argument that parses back to exactly this parameter, e.g.
    /// `rows=1000,java.lang.Long,true`.
    ///
    /// The type and flag are always written out, so a string value that contains commas or looks
    /// like a type still parses back as the same string.
    ///
    /// - Parameter name: The parameter's name.
    public func commandLineArgument(name: String) -> String {
        "\(name)=\(description)"
    }
}
