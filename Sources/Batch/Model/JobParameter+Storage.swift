/// The form in which parameters are written to, and read back from, `batch_job_execution_params`.
extension JobParameter {
    /// The Java class name stored in `parameter_type`, as Spring Batch 5 writes it:
    /// `java.lang.String`, `java.lang.Long`, `java.lang.Double`, `java.time.LocalDate`,
    /// `java.time.LocalDateTime` or `java.util.Date`.
    public var storageType: String {
        switch value {
        case .string: JavaType.string
        case .long: JavaType.long
        case .double: JavaType.double
        case .date(let date):
            switch date.kind {
            case .localDate: JavaType.localDate
            case .localDateTime: JavaType.localDateTime
            case .instant: JavaType.utilDate
            }
        }
    }

    /// The text stored in `parameter_value`, the exact inverse of the storage initializer.
    ///
    /// Longs are decimal; doubles use Java's `Double.toString` layout (`0.1`, `100.0`, `1.0E300`)
    /// with the shortest digits that read back to the same bits; dates use their canonical text.
    public var storageValue: String {
        switch value {
        case .string(let text): text
        case .long(let number): String(number)
        case .double(let number): JavaType.doubleText(number)
        case .date(let date): date.description
        }
    }

    /// Reads a parameter back from a `batch_job_execution_params` row.
    ///
    /// Strict by design: a value that does not parse as its stored type means the row was edited
    /// or written by something else, and guessing would silently change the job instance. Besides
    /// the types SwiftBatch writes, `java.lang.Integer` (which Spring Batch may have written) is
    /// read as a long.
    ///
    /// - Parameters:
    ///   - name: The parameter's name; used only in the error.
    ///   - storageType: The `parameter_type` column.
    ///   - storageValue: The `parameter_value` column.
    ///   - identifying: The `identifying` column (`'Y'` is `true`).
    /// - Throws: ``JobParametersError`` with ``JobParametersError/Code/badType`` for an unknown type,
    ///   ``JobParametersError/Code/badValue`` for a value that does not parse.
    public init(name: String, storageType: String, storageValue: String, identifying: Bool) throws(JobParametersError) {
        let argument = "\(name)=\(storageValue),\(storageType),\(identifying)"
        guard let syntax = JavaType.storageSyntax(storageType) else {
            throw JobParametersError(
                code: .badType, argument: argument,
                message: "stored type \"\(storageType)\" is not one SwiftBatch reads (\(JavaType.supportedNames)); "
                    + "the row in batch_job_execution_params was written by something else or edited")
        }
        switch syntax.parse(storageValue, allowNonFinite: true) {
        case .success(let value):
            self.init(value, identifying: identifying)
        case .failure(let problem):
            throw JobParametersError(
                code: .badValue, argument: argument,
                message: "\(problem.message) (stored type \(storageType)); "
                    + "the row in batch_job_execution_params was written by something else or edited")
        }
    }
}

/// The Java class names Spring Batch uses for parameter types, and the value syntax of each.
enum JavaType {
    static let string = "java.lang.String"
    static let long = "java.lang.Long"
    static let integer = "java.lang.Integer"
    static let double = "java.lang.Double"
    static let localDate = "java.time.LocalDate"
    static let localDateTime = "java.time.LocalDateTime"
    static let utilDate = "java.util.Date"

    static let supportedNames = [string, long, integer, double, localDate, localDateTime, utilDate]
        .joined(separator: ", ")

    static func storageSyntax(_ name: String) -> ValueSyntax? {
        switch name {
        case string: .string
        case long, integer: .long
        case double: .double
        case localDate: .date([.localDate])
        case localDateTime: .date([.localDateTime])
        case utilDate: .date([.instant])
        default: nil
        }
    }

    /// Java's `Double.toString` layout with Swift's shortest round-trip digits.
    ///
    /// Java prints plain decimals for magnitudes in [1e-3, 1e7) and `d.dddE±n` otherwise, always
    /// with a digit after the point. Matching it keeps our rows readable by Spring Batch tooling;
    /// the digits themselves come from Swift, which already picks the shortest exact form.
    /// Negative zero is written as `0.0` because it equals zero and must give the same job key.
    static func doubleText(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return "0.0" }
        let text = abs(value).description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        var digits = Array(mantissa.filter { $0 != "." })
        // The value is 0.<digits> x 10^pointPosition.
        var pointPosition = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) }
            ?? mantissa.count) + exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" {
            digits.removeLast()
        }
        let scientificExponent = pointPosition - 1
        let sign = value < 0 ? "-" : ""
        if (-3..<7).contains(scientificExponent) {
            if scientificExponent >= 0 {
                let integerCount = scientificExponent + 1
                let integerDigits = digits.prefix(integerCount)
                let padding = String(repeating: "0", count: integerCount - integerDigits.count)
                let fraction = digits.dropFirst(integerCount)
                return sign + String(integerDigits) + padding + "." + (fraction.isEmpty ? "0" : String(fraction))
            }
            return sign + "0." + String(repeating: "0", count: -scientificExponent - 1) + String(digits)
        }
        let fraction = digits.dropFirst()
        return sign + String(digits[0]) + "." + (fraction.isEmpty ? "0" : String(fraction)) + "E" + String(scientificExponent)
    }
}

/// How the text of a value is read for one parameter type.
enum ValueSyntax: Sendable, Hashable {
    case string
    case long
    case double
    /// A date whose kind must be one of these.
    case date(Set<JobParameterDate.Kind>)

    /// What is wrong with a value, phrased to follow "parameter "...": ".
    struct Problem: Error {
        let message: String
    }

    func parse(_ text: String, allowNonFinite: Bool) -> Result<JobParameterValue, Problem> {
        switch self {
        case .string:
            return .success(.string(text))
        case .long:
            if let number = Int64(text) {
                return .success(.long(number))
            }
            if text.isEmpty {
                return .failure(Problem(message: "the value is empty, where a whole number was expected"))
            }
            let body = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
            if !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.isNumber }) {
                return .failure(Problem(
                    message: "\"\(text)\" is out of range for a long (\(Int64.min)...\(Int64.max))"))
            }
            return .failure(Problem(message: "\"\(text)\" is not a whole number"))
        case .double:
            if allowNonFinite {
                switch text {
                case "NaN": return .success(.double(.nan))
                case "Infinity": return .success(.double(.infinity))
                case "-Infinity": return .success(.double(-.infinity))
                default: break
                }
            }
            if text.isEmpty {
                return .failure(Problem(message: "the value is empty, where a decimal number was expected"))
            }
            guard Self.isDecimalLiteral(text), let number = Double(text) else {
                let lowered = text.lowercased()
                if ["nan", "infinity", "-infinity", "+infinity", "inf", "-inf", "+inf"].contains(lowered) {
                    return .failure(Problem(message: "\"\(text)\" is not a finite number"))
                }
                return .failure(Problem(message: "\"\(text)\" is not a decimal number"))
            }
            guard number.isFinite else {
                return .failure(Problem(message: "\"\(text)\" is too large for a double (about ±1.8E308 at most)"))
            }
            return .success(.double(number))
        case .date(let kinds):
            switch JobParameterDate.parse(text) {
            case .failure(let failure):
                return .failure(Problem(message: "\"\(text)\" is not a valid date: \(failure.reason)"))
            case .success(let date):
                guard kinds.contains(date.kind) else {
                    let allowed = JobParameterDate.Kind.allCases.filter(kinds.contains).map(\.phrase)
                    return .failure(Problem(
                        message: "\"\(text)\" is \(date.kind.phrase), where \(allowed.joined(separator: " or ")) was expected"))
                }
                return .success(.date(date))
            }
        }
    }

    /// `[+-]digits[.digits][e[+-]digits]` (also `.5` and `5.`), the decimal forms Java accepts.
    ///
    /// Swift's `Double(_:)` also takes hex floats, `nan` and `inf`, which Java would not read back.
    static func isDecimalLiteral(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        func digitRun() -> Int {
            let count = bytes.prefix(while: { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }).count
            bytes = bytes.dropFirst(count)
            return count
        }
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            bytes = bytes.dropFirst()
        }
        var mantissaDigits = digitRun()
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            mantissaDigits += digitRun()
        }
        guard mantissaDigits > 0 else { return false }
        if let first = bytes.first, first == UInt8(ascii: "e") || first == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                bytes = bytes.dropFirst()
            }
            guard digitRun() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}

extension JobParameterDate.Kind {
    /// How messages name the kind: "a calendar date", "a date-time without zone", "an instant".
    var phrase: String {
        switch self {
        case .localDate: "a calendar date (YYYY-MM-DD)"
        case .localDateTime: "a date-time without zone (YYYY-MM-DDTHH:MM:SS)"
        case .instant: "an instant (YYYY-MM-DDTHH:MM:SSZ or with an offset)"
        }
    }
}
