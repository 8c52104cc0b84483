import BatchSupport

/// One partition per `days` calendar days from one date job parameter through another: for
/// inputs keyed by a date first, such as a table keyed by `(day, name)`.
///
/// With `from=2026-03-01`, `to=2026-03-10` and `days: 4` the partitions read
/// `[2026-03-01, 2026-03-05)`, `[2026-03-05, 2026-03-09)` and `[2026-03-09, 2026-03-11)`:
/// ``Partition/keys(_:index:of:)`` ranges whose bounds are one-value `date` keys, lower bound
/// included, upper bound excluded, the last one ending the day after `to`. A keyset reader
/// given such a range (``Partition/keys(in:)``) compares only its key's first column with the
/// bounds, so every key of a day is in exactly one partition, whatever follows the date.
///
/// The parameters may be dates (`from=2026-03-01,date`) or strings (`from=2026-03-01`); the
/// date of a date-time is its calendar day. The grid size is not used: the dates decide.
public struct DateRangePartitioner: Partitioner {
    /// The job parameter holding the first day (included).
    public let fromParameter: String
    /// The job parameter holding the last day (included).
    public let toParameter: String
    /// Days per partition, unless ``daysParameter`` is given.
    public let days: Int
    /// A long job parameter that replaces ``days`` when given.
    public let daysParameter: String?

    /// The most partitions one split may make.
    public static let maxPartitions = 100_000

    public init(from fromParameter: String = "from", to toParameter: String = "to", days: Int = 1, daysParameter: String? = nil) {
        precondition(days > 0, "a date-range partition spans at least one day")
        self.fromParameter = fromParameter
        self.toParameter = toParameter
        self.days = days
        self.daysParameter = daysParameter
    }

    public func validate(_ parameters: JobParameters) throws {
        _ = try plan(parameters)
    }

    public func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] {
        var all: [Partition] = []
        try forEachPartition(gridSize: gridSize, in: scope) { all.append($0) }
        return all
    }

    public func forEachPartition(gridSize: Int, in scope: StepScope, _ each: (Partition) throws -> Void) throws {
        let (first, last, span) = try plan(scope.parameters)
        let count = Int((last - first) / span + 1)
        for index in 0..<count {
            let lower = first + Int64(index) * span
            let upper = min(lower + span, last + 1)
            try each(Partition.keys(KeyRange(from: [Self.key(lower)], below: [Self.key(upper)]), index: index, of: count))
        }
    }

    /// The first and last days (days since 1970-01-01) and the days per partition.
    private func plan(_ parameters: JobParameters) throws -> (Int64, Int64, Int64) {
        let first = try day(fromParameter, parameters)
        let last = try day(toParameter, parameters)
        guard first <= last else {
            throw InvalidStepParameter(
                description: "parameter \(fromParameter) (\(Self.key(first).text)) is after \(toParameter) (\(Self.key(last).text)): "
                    + "give the first day in \(fromParameter) and the last in \(toParameter)")
        }
        var span = Int64(days)
        if let daysParameter, let value = parameters.long(daysParameter) {
            guard value > 0, value <= 100_000 else {
                throw InvalidStepParameter(description: "parameter \(daysParameter) must be between 1 and 100000 days, not \(value)")
            }
            span = value
        }
        guard (last - first) / span + 1 <= Int64(Self.maxPartitions) else {
            throw InvalidStepParameter(
                description: "\(fromParameter) to \(toParameter) in spans of \(span) days makes more than \(Self.maxPartitions) partitions: "
                    + "give a shorter period or more days per partition")
        }
        return (first, last, span)
    }

    private func day(_ name: String, _ parameters: JobParameters) throws -> Int64 {
        switch parameters.dictionary[name]?.value {
        case .date(let date):
            return CivilCalendar.days(year: date.year, month: date.month, day: date.day)
        case .string(let text):
            guard let days = CivilCalendar.days(isoDate: text) else {
                throw InvalidStepParameter(description: "parameter \(name) is \"\(text)\", not a date of the form YYYY-MM-DD")
            }
            return days
        case nil:
            throw InvalidStepParameter(description: "parameter \(name) is missing: give the date as \(name)=YYYY-MM-DD")
        case let other?:
            throw InvalidStepParameter(description: "parameter \(name) is \(other), not a date: give it as \(name)=YYYY-MM-DD")
        }
    }

    private static func key(_ days: Int64) -> KeyValue {
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        return .date(year: year, month: month, day: day)
    }
}
