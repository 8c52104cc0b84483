extension Job {
    /// Checks `given` against the declared parameters and returns what the execution records:
    /// declared types applied to untyped command-line values, defaults filled in, each
    /// declared parameter's `identifying` flag applied.
    ///
    /// - Throws: ``JobLaunchError`` `.invalidParameters`, naming every problem, before anything
    ///   is written; `.invalidDefinition` when the job's flow is badly defined.
    public func resolveParameters(_ given: JobParameters) throws -> JobParameters {
        guard definitionProblems.isEmpty else {
            throw JobLaunchError(
                code: .invalidDefinition, jobName: name,
                message: "job \(name) is badly defined: " + definitionProblems.joined(separator: "; "))
        }
        var resolved: [String: JobParameter] = given.dictionary
        var problems: [String] = []
        for spec in parameterSpecs {
            guard let parameter = given[spec.name] else {
                if let value = spec.defaultValue {
                    resolved[spec.name] = JobParameter(value, identifying: spec.identifying)
                } else if spec.isRequired {
                    problems.append("missing required parameter \(spec.name) (\(spec.kind))")
                }
                continue
            }
            do {
                resolved[spec.name] = JobParameter(
                    try Self.convert(parameter.value, to: spec.kind, name: spec.name),
                    identifying: spec.identifying)
            } catch {
                problems.append("\(error)")
            }
        }
        if rejectsUnknownParameters {
            let known = Set(parameterSpecs.map(\.name)).union([JobParameters.runIDName])
            for name in given.names where !known.contains(name) {
                let list = parameterSpecs.map(\.name).sorted().joined(separator: ", ")
                problems.append("job \(self.name) takes no parameter \(name) (it takes: \(list))")
            }
        }
        // What the repository's columns hold (Spring Batch's parameter_name varchar(100) and
        // parameter_value varchar(2500)): longer is refused here, not by an SQL error later.
        for (name, parameter) in resolved.sorted(by: { $0.key < $1.key }) {
            if name.count > JobParameters.maximumNameLength {
                problems.append(
                    "parameter name \"\(name.prefix(40))...\" has \(name.count) characters; at most \(JobParameters.maximumNameLength) are kept")
            }
            if case .string(let text) = parameter.value, text.count > JobParameters.maximumValueLength {
                problems.append(
                    "parameter \(name) has \(text.count) characters; the repository keeps at most \(JobParameters.maximumValueLength): pass a file name or a key instead")
            }
        }
        if problems.isEmpty {
            let candidate = JobParameters(resolved)
            for step in steps {
                do {
                    try step.validate(candidate)
                } catch {
                    problems.append("\(error)")
                }
            }
        }
        guard problems.isEmpty else {
            throw JobLaunchError(
                code: .invalidParameters, jobName: name,
                message: problems.joined(separator: "; "))
        }
        return JobParameters(resolved)
    }

    private struct ConversionError: Error, CustomStringConvertible {
        var description: String
    }

    private static func convert(_ value: JobParameterValue, to kind: JobParameterSpec.Kind, name: String)
        throws -> JobParameterValue
    {
        switch (value, kind) {
        case (.string, .string), (.long, .long), (.double, .double), (.date, .date):
            return value
        case (.long(let number), .double):
            return .double(Double(number))
        case (.string(let text), .long):
            guard let number = Int64(text) else {
                throw ConversionError(description: "parameter \(name): \"\(text)\" is not a whole number; write \(name)=1000")
            }
            return .long(number)
        case (.string(let text), .double):
            guard let number = Double(text), number.isFinite else {
                throw ConversionError(description: "parameter \(name): \"\(text)\" is not a number; write \(name)=0.5")
            }
            return .double(number)
        case (.string(let text), .date):
            do {
                return .date(try JobParameterDate(parsing: text))
            } catch {
                throw ConversionError(description: "parameter \(name): \(error.message)")
            }
        default:
            throw ConversionError(description: "parameter \(name) must be a \(kind), not \(value)")
        }
    }
}
