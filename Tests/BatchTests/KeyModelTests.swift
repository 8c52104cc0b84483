import Batch
import Foundation
import Logging
import Testing

@Suite("Keys, key ranges and key partitioners")
struct KeyModelTests {
    static func scope(_ parameters: JobParameters) throws -> StepScope {
        let execution = JobExecution(
            id: 0, instance: JobInstance(id: 0, jobName: "test", jobKey: ""), parameters: parameters,
            status: .started, exitStatus: .executing, createTime: Date())
        return StepScope(session: try InMemoryJobRepository().openSession(), jobExecution: execution, logger: Logger(label: "test"))
    }

    @Test func keysSurviveTheContextExactly() throws {
        let key: RowKey = [
            .bigint(.min), .text("Zürich \"quoted\"\n"), .uuid("0b9a8f1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"),
            .date("2026-03-01"), .timestamp("2026-03-01 23:59:59.999999"), .timestamptz("1999-12-31 23:00:00.000001+00"),
            .numeric("-123456789012345678901234567890.123456789012345678901"),
        ]
        var context = ExecutionContext()
        context["reader.last_key"] = key.json
        let reread = try ExecutionContext(jsonText: context.jsonText)
        #expect(RowKey(json: try #require(reread["reader.last_key"])) == key)
        #expect(context.jsonText.contains(#"{"numeric":"-123456789012345678901234567890.123456789012345678901"}"#))
        #expect(context.jsonText.contains(#"{"bigint":-9223372036854775808}"#))

        // The bigint form earlier readers saved reads as a one-column key.
        #expect(RowKey(json: .int(42)) == [.bigint(42)])
        for bad: JSONValue in ["42", .array([]), .array([.object(["float": .string("1.5")])]),
                               .array([.object(["bigint": .string("x")])]), .array([.object(["date": .int(1)])])] {
            #expect(RowKey(json: bad) == nil, "\(bad)")
        }
        #expect(KeyValue.date(year: 826, month: 2, day: 9) == .date("0826-02-09"))
    }

    @Test func partitionsCarryHalfOpenRangesOfAnyKey() throws {
        let range = KeyRange(from: [.date("2026-03-01"), .text("m")], below: [.date("2026-03-08")])
        let partition = Partition.keys(range, index: 3, of: 12)
        #expect(partition.name == "p03")
        #expect(try Partition.keys(in: partition.context) == range)
        #expect(try Partition.keys(in: Partition.keys(KeyRange(below: [.text("g")]), index: 0, of: 1).context)
            == KeyRange(from: nil, below: [.text("g")]))
        #expect(try Partition.keys(in: [:]) == nil)
        // A bigint partition reads as the same keys, half-open.
        #expect(try Partition.keys(in: Partition.keyRange(100...199, index: 0, of: 1).context) == KeyRange(from: [.bigint(100)], below: [.bigint(200)]))
        #expect(KeyRange(5...Int64.max) == KeyRange(from: [.bigint(5)]))
        let bad = #expect(throws: ItemStreamError.self) { try Partition.keys(in: ["partition.lower": "2026-03-01"]) }
        #expect(bad?.code == .badCheckpoint)
        #expect(bad?.description.contains(#"[{"date":"2026-03-01"},{"text":"a"}]"#) == true)
    }

    @Test func dateRangesSplitTheDaysFromThroughTo() throws {
        let partitioner = DateRangePartitioner(from: "from", to: "to", days: 4, daysParameter: "days")
        let parameters: JobParameters = ["from": .string("2026-02-26"), "to": .string("2026-03-06")]
        let partitions = try partitioner.partitions(gridSize: 8, in: Self.scope(parameters))
        #expect(partitions.map(\.name) == ["p0", "p1", "p2"])
        #expect(try partitions.map { try Partition.keys(in: $0.context) } == [
            KeyRange(from: [.date("2026-02-26")], below: [.date("2026-03-02")]),
            KeyRange(from: [.date("2026-03-02")], below: [.date("2026-03-06")]),
            KeyRange(from: [.date("2026-03-06")], below: [.date("2026-03-07")]),
        ])
        // One day a partition, from date parameters; a leap day.
        let daily = try DateRangePartitioner().partitions(gridSize: 1, in: Self.scope([
            "from": .date(JobParameterDate(year: 2028, month: 2, day: 28)!),
            "to": .date(JobParameterDate(year: 2028, month: 3, day: 1)!),
        ]))
        #expect(try daily.map { try Partition.keys(in: $0.context)?.lower } == [[.date("2028-02-28")], [.date("2028-02-29")], [.date("2028-03-01")]])
        #expect(try partitioner.partitions(gridSize: 1, in: Self.scope(parameters.adding("days", .long(100)))).count == 1)

        for (bad, says) in [
            (["from": .string("2026-03-02"), "to": .string("2026-03-01")] as JobParameters, "is after to"),
            (["to": .string("2026-03-01")], "parameter from is missing"),
            (["from": .string("2026-02-30"), "to": .string("2026-03-01")], "not a date of the form YYYY-MM-DD"),
            (["from": .long(20260301), "to": .string("2026-03-01")], "not a date"),
            (parameters.adding("days", .long(0)), "between 1 and 100000 days"),
            (["from": .string("0001-01-01"), "to": .string("9999-12-31"), "days": .long(1)], "more than 100000 partitions"),
        ] {
            let error = #expect(throws: InvalidStepParameter.self) { try partitioner.validate(bad) }
            #expect(error?.description.contains(says) == true, "\(error?.description ?? "")")
        }
    }

    @Test func boundariesMakeOneMorePartitionOpenAtBothEnds() throws {
        let partitions = try KeyBoundaryPartitioner([[.text("g")], [.text("n")]]).partitions(gridSize: 8, in: Self.scope([:]))
        #expect(try partitions.map { try Partition.keys(in: $0.context) } == [
            KeyRange(below: [.text("g")]), KeyRange(from: [.text("g")], below: [.text("n")]), KeyRange(from: [.text("n")]),
        ])
        #expect(try KeyBoundaryPartitioner([]).partitions(gridSize: 8, in: Self.scope([:])).count == 1)
    }
}
