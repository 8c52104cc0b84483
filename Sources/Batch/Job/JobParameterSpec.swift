/// A parameter a job declares: its type, whether it is required, and whether it identifies the
/// instance.
///
/// Declared parameters are typed for the user: `rows=1000` on the command line becomes a long
/// when the job declares `rows` as one, and a value that does not fit is refused before
/// anything is written.
public struct JobParameterSpec: Sendable {
    public enum Kind: String, Sendable {
        case string, long, double, date
    }

    public var name: String
    public var kind: Kind
    public var isRequired: Bool
    /// Whether the parameter is part of the instance's identity (declared specs decide this).
    public var identifying: Bool
    public var defaultValue: JobParameterValue?
    public var help: String

    /// A parameter the job cannot run without.
    public static func required(_ name: String, _ kind: Kind, identifying: Bool = true, help: String = "")
        -> JobParameterSpec
    {
        JobParameterSpec(name: name, kind: kind, isRequired: true, identifying: identifying, defaultValue: nil, help: help)
    }

    /// A parameter with a default; the default is recorded with the execution like a given value.
    public static func optional(
        _ name: String, _ kind: Kind, default defaultValue: JobParameterValue? = nil,
        identifying: Bool = true, help: String = ""
    ) -> JobParameterSpec {
        JobParameterSpec(
            name: name, kind: kind, isRequired: false, identifying: identifying,
            defaultValue: defaultValue, help: help)
    }
}
