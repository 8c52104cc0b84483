/// The parameters of a job execution: an immutable set of named, typed values.
///
/// Iteration and ``names`` are sorted by name, so logs, stored rows and the ``jobKey`` never
/// depend on insertion or hashing order. Names are compared as Swift strings (canonically
/// equivalent spellings are the same name). Build one from a dictionary literal, from
/// command-line arguments with ``init(parsing:)``, or from stored rows through
/// ``JobParameter/init(name:storageType:storageValue:identifying:)``.
public struct JobParameters: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral,
    CustomStringConvertible
{
    /// One named parameter.
    public typealias Element = (name: String, parameter: JobParameter)

    /// The name of the parameter that `--next` (``incrementingRunID()``) increments, as in Spring
    /// Batch's `RunIdIncrementer`.
    public static let runIDName = "run.id"
    /// The longest name and string value the repository keeps (Spring Batch 5's columns).
    public static let maximumNameLength = 100
    public static let maximumValueLength = 2500

    private let parameters: [String: JobParameter]
    /// The parameter names, sorted.
    public let names: [String]

    /// Creates parameters from a dictionary.
    public init(_ parameters: [String: JobParameter] = [:]) {
        self.parameters = parameters
        self.names = parameters.keys.sorted()
    }

    /// Creates parameters from a literal; a name given twice is a programming error and traps.
    public init(dictionaryLiteral elements: (String, JobParameter)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, _ in
            preconditionFailure("JobParameters literal names a parameter twice")
        }))
    }

    // MARK: Collection

    public var startIndex: Int { names.startIndex }
    public var endIndex: Int { names.endIndex }

    public subscript(position: Int) -> Element {
        let name = names[position]
        return (name, parameters[name]!)
    }

    // MARK: Access

    /// The parameter with this name, or `nil`.
    public subscript(name: String) -> JobParameter? {
        parameters[name]
    }

    /// The parameters as a dictionary.
    public var dictionary: [String: JobParameter] { parameters }

    /// The value of a string parameter; `nil` if it is missing or of another type.
    public func string(_ name: String) -> String? {
        guard case .string(let value) = parameters[name]?.value else { return nil }
        return value
    }

    /// The value of a long parameter; `nil` if it is missing or of another type.
    public func long(_ name: String) -> Int64? {
        guard case .long(let value) = parameters[name]?.value else { return nil }
        return value
    }

    /// The value of a double parameter; `nil` if it is missing or of another type (a long is not
    /// converted, so a typo in the type shows up instead of being papered over).
    public func double(_ name: String) -> Double? {
        guard case .double(let value) = parameters[name]?.value else { return nil }
        return value
    }

    /// The value of a date parameter (any kind); `nil` if it is missing or of another type.
    public func date(_ name: String) -> JobParameterDate? {
        guard case .date(let value) = parameters[name]?.value else { return nil }
        return value
    }

    /// Only the identifying parameters: the ones that make up the job instance.
    public var identifying: JobParameters {
        JobParameters(parameters.filter { $0.value.identifying })
    }

    /// Only the non-identifying parameters.
    public var nonIdentifying: JobParameters {
        JobParameters(parameters.filter { !$0.value.identifying })
    }

    // MARK: Deriving

    /// These parameters with one added, replacing any parameter of the same name.
    public func adding(_ name: String, _ parameter: JobParameter) -> JobParameters {
        var copy = parameters
        copy[name] = parameter
        return JobParameters(copy)
    }

    /// These parameters without the named one.
    public func removing(_ name: String) -> JobParameters {
        var copy = parameters
        copy[name] = nil
        return JobParameters(copy)
    }

    /// These parameters combined with `other`; where both name a parameter, `other` wins.
    ///
    /// That is the order `--next` needs: the previous instance's parameters, merged with the ones
    /// given on this command line.
    public func merging(_ other: JobParameters) -> JobParameters {
        JobParameters(parameters.merging(other.parameters) { _, new in new })
    }

    /// These parameters with `run.id` set to the next run number: what `--next` launches.
    ///
    /// Like Spring Batch's `RunIdIncrementer`: the result has an identifying long `run.id` one
    /// greater than the current one, or 1 if there is none. A string `run.id` holding a whole
    /// number (as older launchers wrote it) is accepted and becomes a long. Call it on the
    /// parameters of the job's *last* instance, not on the new command line's.
    ///
    /// - Throws: ``JobParametersError`` with ``JobParametersError/Code/badValue`` if `run.id` is
    ///   not a whole number or is already `Int64.max`.
    public func incrementingRunID() throws(JobParametersError) -> JobParameters {
        let name = Self.runIDName
        var next: Int64 = 1
        if let current = parameters[name] {
            let argument = current.commandLineArgument(name: name)
            let previous: Int64
            switch current.value {
            case .long(let value):
                previous = value
            case .string(let text):
                guard let value = Int64(text) else {
                    throw JobParametersError(
                        code: .badValue, argument: argument,
                        message: "\"\(text)\" is not a whole number, so --next cannot increment it; "
                            + "launch once with \(name)=1,long or remove \(name)")
                }
                previous = value
            case .double, .date:
                throw JobParametersError(
                    code: .badValue, argument: argument,
                    message: "\(name) must be a long for --next to increment it; launch once with \(name)=1,long")
            }
            guard previous < Int64.max else {
                throw JobParametersError(
                    code: .badValue, argument: argument,
                    message: "\(name) is already the largest long, so --next cannot increment it; "
                        + "launch with a smaller \(name), e.g. \(name)=1,long")
            }
            next = previous + 1
        }
        return adding(name, .long(next))
    }

    // MARK: Equality

    public static func == (lhs: JobParameters, rhs: JobParameters) -> Bool {
        lhs.parameters == rhs.parameters
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(parameters)
    }

    /// The parameters as `{name=value,type,identifying, ...}`, sorted by name.
    public var description: String {
        "{" + map { $0.parameter.commandLineArgument(name: $0.name) }.joined(separator: ", ") + "}"
    }
}
