import Testing

@testable import Batch

@Suite("JobParameters")
struct JobParametersTests {
    let sample: JobParameters = [
        "zeta": .string("last"),
        "alpha": .long(1),
        "mid": .double(0.5, identifying: false),
        "day": .date(JobParameterDate("2026-01-31")!),
    ]

    @Test("names and iteration are sorted whatever the insertion order")
    func sorted() {
        #expect(sample.names == ["alpha", "day", "mid", "zeta"])
        #expect(sample.map(\.name) == ["alpha", "day", "mid", "zeta"])
        #expect(sample.count == 4)
        #expect(sample[0].name == "alpha")
        #expect(sample[0].parameter == .long(1))
        let reversed = JobParameters(Dictionary(uniqueKeysWithValues: sample.reversed().map { ($0.name, $0.parameter) }))
        #expect(reversed.names == sample.names)
        #expect(reversed == sample)
        #expect(reversed.hashValue == sample.hashValue)
    }

    @Test("typed accessors return nil for a missing name or another type")
    func typedAccessors() {
        #expect(sample.string("zeta") == "last")
        #expect(sample.long("alpha") == 1)
        #expect(sample.double("mid") == 0.5)
        #expect(sample.date("day") == JobParameterDate("2026-01-31"))
        #expect(sample.string("alpha") == nil)
        #expect(sample.long("zeta") == nil)
        #expect(sample.double("alpha") == nil)
        #expect(sample.date("zeta") == nil)
        #expect(sample.string("missing") == nil)
        #expect(sample["missing"] == nil)
        #expect(sample["mid"] == .double(0.5, identifying: false))
    }

    @Test("identifying and nonIdentifying split the parameters")
    func identifying() {
        #expect(sample.identifying.names == ["alpha", "day", "zeta"])
        #expect(sample.nonIdentifying.names == ["mid"])
        #expect(JobParameters().identifying.isEmpty)
    }

    @Test("adding replaces, removing removes, merging lets the argument win")
    func deriving() {
        let added = sample.adding("alpha", .long(2)).adding("new", .string("n"))
        #expect(added.long("alpha") == 2)
        #expect(added.names == ["alpha", "day", "mid", "new", "zeta"])
        #expect(sample.long("alpha") == 1)

        #expect(sample.removing("mid").names == ["alpha", "day", "zeta"])
        #expect(sample.removing("nothing") == sample)

        let merged = sample.merging(["alpha": .long(9, identifying: false), "extra": .string("e")])
        #expect(merged["alpha"] == .long(9, identifying: false))
        #expect(merged.string("extra") == "e")
        #expect(merged.string("zeta") == "last")
    }

    @Test("equality ignores construction order but not types or flags")
    func equality() {
        #expect(JobParameters(["a": .long(1)]) == ["a": .long(1)])
        #expect(JobParameters(["a": .long(1)]) != ["a": .string("1")])
        #expect(JobParameters(["a": .long(1)]) != ["a": .long(1, identifying: false)])
        #expect(JobParameters(["a": .double(1)]) != ["a": .long(1)])
    }

    @Test("incrementingRunID starts at 1")
    func runIDStarts() throws {
        let next = try JobParameters(["day": .string("x")]).incrementingRunID()
        #expect(next["run.id"] == .long(1))
        #expect(next.string("day") == "x")
    }

    @Test("incrementingRunID adds one and makes run.id an identifying long")
    func runIDIncrements() throws {
        #expect(try JobParameters(["run.id": .long(41)]).incrementingRunID()["run.id"] == .long(42))
        #expect(try JobParameters(["run.id": .long(-1)]).incrementingRunID()["run.id"] == .long(0))
        #expect(try JobParameters(["run.id": .long(5, identifying: false)]).incrementingRunID()["run.id"] == .long(6))
        #expect(try JobParameters(["run.id": .string("9")]).incrementingRunID()["run.id"] == .long(10))
        #expect(JobParameters.runIDName == "run.id")
    }

    @Test("incrementingRunID refuses what it cannot increment")
    func runIDErrors() {
        let text = #expect(throws: JobParametersError.self) {
            try JobParameters(["run.id": .string("abc")]).incrementingRunID()
        }
        #expect(text?.code == .badValue)
        #expect(text?.description == #"parameter "run.id=abc,java.lang.String,true": "abc" is not a whole number, "#
            + "so --next cannot increment it; launch once with run.id=1,long or remove run.id")

        let double = #expect(throws: JobParametersError.self) {
            try JobParameters(["run.id": .double(1.5)]).incrementingRunID()
        }
        #expect(double?.message == "run.id must be a long for --next to increment it; launch once with run.id=1,long")

        let overflow = #expect(throws: JobParametersError.self) {
            try JobParameters(["run.id": .long(Int64.max)]).incrementingRunID()
        }
        #expect(overflow?.code == .badValue)
        #expect(overflow?.message.contains("already the largest long") == true)
    }

    @Test("description lists the parameters in command-line form")
    func description() {
        #expect(JobParameters(["b": .long(2), "a": .string("x", identifying: false)]).description
            == "{a=x,java.lang.String,false, b=2,java.lang.Long,true}")
        #expect(JobParameters().description == "{}")
    }
}
