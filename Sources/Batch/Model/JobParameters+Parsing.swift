/// Command-line parameters in Spring Batch 5's default notation.
///
/// Each argument is `name=value[,type[,identifying]]`:
///
/// - The name is everything before the first `=`; the value may itself contain `=`.
/// - `type` is a Java class name as Spring Batch writes it, or a short alias:
///
///   | Java class name                      | Alias         | Value                                     |
///   |--------------------------------------|---------------|-------------------------------------------|
///   | `java.lang.String` (the default)     | `string`      | any text                                  |
///   | `java.lang.Long`, `java.lang.Integer`| `long`, `int` | a 64-bit whole number                     |
///   | `java.lang.Double`                   | `double`      | a finite decimal number, e.g. `0.25`, `1e-3` |
///   | `java.time.LocalDate`                | —             | `2026-01-31`                              |
///   | `java.time.LocalDateTime`            | —             | `2026-01-31T10:15:30`                     |
///   | `java.util.Date`                     | —             | `2026-01-31T10:15:30Z` or `…+02:00`       |
///   |                                      | `date`        | any of the three date forms               |
///   |                                      | `datetime`    | a date-time, with or without zone         |
///
///   Class names must be spelled exactly; aliases ignore case.
/// - `identifying` is `true` (the default) or `false`, in any case.
///
/// ## Commas in values
///
/// Spring Batch splits the whole text on every comma, so it cannot take a value with a comma
/// (`a,b` fails with "class b not found"). SwiftBatch instead strips a suffix from the *end*
/// only when it is a valid `,type` or `,type,identifying`; any other comma belongs to the value.
/// Every argument Spring Batch accepts means the same here, and in addition:
///
/// - `tags=red,green` is the string `red,green`;
/// - `tags=red,green,string,false` is the non-identifying string `red,green`;
/// - `label=a,long` is the long `a` (an error): to pass the text `a,long`, end it with an explicit
///   type, `label=a,long,string`.
///
/// Endings that are almost surely mistakes are errors rather than part of the value: an
/// unsupported Java class (`,java.lang.Float`), a flag without a type (`x=5,true`) and a bad flag
/// after a type (`x=5,long,yes`). Add `,string` after a text value that ends that way.
extension JobParameters {
    /// Parses command-line arguments into parameters.
    ///
    /// - Parameter arguments: One `name=value[,type[,identifying]]` per element, as the shell
    ///   split them; no element is split further on spaces.
    /// - Throws: ``JobParametersError`` for the first argument that is wrong, including a name
    ///   given twice (``JobParametersError/Code/duplicateName``); nothing is silently overridden.
    public init(parsing arguments: some Sequence<String>) throws(JobParametersError) {
        var parameters: [String: JobParameter] = [:]
        var firstArgument: [String: String] = [:]
        for argument in arguments {
            let (name, parameter) = try JobParameter.parse(argument: argument)
            if let earlier = firstArgument[name] {
                throw JobParametersError(
                    code: .duplicateName, argument: argument,
                    message: "\"\(name)\" is already given by \"\(earlier)\"; give each parameter once")
            }
            firstArgument[name] = argument
            parameters[name] = parameter
        }
        self.init(parameters)
    }
}

extension JobParameter {
    /// Parses one `name=value[,type[,identifying]]` argument (see ``JobParameters/init(parsing:)``
    /// for the notation and how commas are read).
    ///
    /// - Parameter argument: The argument as given on the command line.
    /// - Returns: The name and the parameter.
    /// - Throws: ``JobParametersError`` naming what is wrong and what to write instead.
    public static func parse(argument: String) throws(JobParametersError) -> (name: String, parameter: JobParameter) {
        guard let equals = argument.firstIndex(of: "=") else {
            throw JobParametersError(
                code: .missingEquals, argument: argument,
                message: "there is no \"=\" between name and value; write \(argument.isEmpty ? "name" : argument)=value"
                    + "[,type[,true|false]], e.g. rows=1000,long")
        }
        let name = String(argument[..<equals])
        let encoded = String(argument[argument.index(after: equals)...])
        guard !name.allSatisfy(\.isWhitespace) else {
            throw JobParametersError(
                code: .emptyName, argument: argument,
                message: "the name before \"=\" is empty; write name=\(encoded)")
        }
        let parts = try Encoded(name: name, text: encoded, argument: argument)
        switch parts.syntax.parse(parts.value, allowNonFinite: false) {
        case .success(let value):
            return (name, JobParameter(value, identifying: parts.identifying))
        case .failure(let problem):
            throw JobParametersError(
                code: .badValue, argument: argument,
                message: "\(problem.message); write \(parts.example(name: name))")
        }
    }

    /// An encoded `value[,type[,identifying]]`, split into its parts.
    private struct Encoded {
        var value: String
        var syntax: ValueSyntax = .string
        var typeToken: String?
        var identifyingToken: String?
        var identifying = true

        /// Reads the suffix from the end: `,type,flag` if the last two pieces are a type and a
        /// flag, else `,type` if the last piece is a type; every other comma is part of the value.
        init(name: String, text: String, argument: String) throws(JobParametersError) {
            let pieces = text.split(separator: ",", omittingEmptySubsequences: false)
            let last = pieces.last!.trimmingWhitespace
            let beforeLast = pieces.count >= 3 ? pieces[pieces.count - 2].trimmingWhitespace : nil
            let valueText = { (dropping: Int) in pieces.dropLast(dropping).joined(separator: ",") }

            if let beforeLast, let syntax = Self.syntax(forToken: beforeLast), Self.syntax(forToken: last) == nil {
                guard let flag = Self.flag(last) else {
                    throw JobParametersError(
                        code: .badIdentifying, argument: argument,
                        message: "identifying must be true or false, not \"\(last)\"; write "
                            + "\(name)=\(valueText(2)),\(beforeLast),false (or end a text value containing commas with ,string)")
                }
                (value, self.syntax, typeToken, identifyingToken, identifying) = (valueText(2), syntax, beforeLast, last, flag)
                return
            }
            if pieces.count >= 2, let syntax = Self.syntax(forToken: last) {
                (value, self.syntax, typeToken) = (valueText(1), syntax, last)
                return
            }
            value = text
            guard pieces.count >= 2 else { return }
            // Endings that look like a type suffix gone wrong are errors, not text.
            let flagged = Self.flag(last) != nil
            if let typeCandidate = flagged ? beforeLast : last, Self.looksLikeJavaClass(typeCandidate) {
                throw JobParametersError(
                    code: .badType, argument: argument,
                    message: "\"\(typeCandidate)\" is not a supported type\(Self.spellingHint(typeCandidate)); use one of "
                        + "\(JavaType.supportedNames), or the aliases \(Self.aliases.joined(separator: ", "))")
            }
            if flagged {
                let shown = valueText(1)
                throw JobParametersError(
                    code: .badType, argument: argument,
                    message: "\"\(last)\" stands where the type goes; the identifying flag comes after the type: "
                        + "write \(name)=\(shown),string,\(last.lowercased())")
            }
        }

        /// `name=<example>,<type>[,<flag>]` with the user's own type spelling.
        func example(name: String) -> String {
            let sample: String
            switch syntax {
            case .string: sample = "text"
            case .long: sample = "1000"
            case .double: sample = "0.25"
            case .date(let kinds):
                if kinds.contains(.localDate) {
                    sample = "2026-01-31"
                } else if kinds == [.localDateTime] {
                    sample = "2026-01-31T10:15:30"
                } else {
                    sample = "2026-01-31T10:15:30Z"
                }
            }
            return "\(name)=\(sample)" + (typeToken.map { ",\($0)" } ?? "") + (identifyingToken.map { ",\($0)" } ?? "")
        }

        static let aliases = ["string", "long", "int", "double", "date", "datetime"]

        static func syntax(forToken token: String) -> ValueSyntax? {
            if let syntax = JavaType.storageSyntax(token) {
                return syntax
            }
            switch token.lowercased() {
            case "string": return .string
            case "long", "int": return .long
            case "double": return .double
            case "date": return .date(Set(JobParameterDate.Kind.allCases))
            case "datetime": return .date([.localDateTime, .instant])
            default: return nil
            }
        }

        /// Java's `Boolean.parseBoolean` ignores case too, but reads every other word as `false`;
        /// here anything else is not a flag.
        static func flag(_ token: String) -> Bool? {
            switch token.lowercased() {
            case "true": true
            case "false": false
            default: nil
            }
        }

        static func looksLikeJavaClass(_ token: String) -> Bool {
            token.hasPrefix("java.") || token.hasPrefix("javax.")
        }

        static func spellingHint(_ token: String) -> String {
            let known = [JavaType.string, JavaType.long, JavaType.integer, JavaType.double,
                         JavaType.localDate, JavaType.localDateTime, JavaType.utilDate]
            guard let match = known.first(where: { $0.lowercased() == token.lowercased() }) else { return "" }
            return " (did you mean \(match)? class names are case-sensitive)"
        }
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
