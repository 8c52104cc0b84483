import Testing

@testable import Batch

@Suite("Job key")
struct JobKeyTests {
    @Test("no identifying parameters hash the empty string")
    func empty() {
        #expect(JobParameters().jobKey == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(JobParameters(["x": .long(1, identifying: false)]).jobKey == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(JobParameters().canonicalIdentifyingForm == "")
    }

    @Test("the canonical form is netstrings of name, type and value, sorted by name")
    func canonicalForm() throws {
        let parameters = try JobParameters(parsing: ["run.id=1,long", "day=2026-01-31,date", "note=x,string,false"])
        #expect(parameters.canonicalIdentifyingForm
            == "3:day,19:java.time.LocalDate,10:2026-01-31,6:run.id,14:java.lang.Long,1:1,")
        #expect(parameters.jobKey == "330667a2f2508ba50bb3b276f67e7272")  // python3 hashlib.md5 of the text above
    }

    @Test("lengths are UTF-8 byte counts")
    func utf8Lengths() {
        #expect(JobParameters(["é": .string("🎉")]).canonicalIdentifyingForm == "2:é,16:java.lang.String,4:🎉,")
    }

    @Test("the key is 32 lowercase hex digits")
    func shape() throws {
        let key = try JobParameters(parsing: ["a=1"]).jobKey
        #expect(key.count == 32)
        #expect(key.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    @Test("what counts: identifying names, types and values; not order or non-identifying ones")
    func whatCounts() {
        let base: JobParameters = ["a": .long(1), "b": .string("x")]
        #expect(JobParameters(["b": .string("x"), "a": .long(1)]).jobKey == base.jobKey)
        #expect(base.adding("c", .string("y", identifying: false)).jobKey == base.jobKey)
        #expect(base.adding("a", .long(2)).jobKey != base.jobKey)
        #expect(base.adding("a", .string("1")).jobKey != base.jobKey)
        #expect(base.adding("a", .double(1)).jobKey != base.jobKey)
        #expect(base.adding("a", .long(1, identifying: false)).jobKey != base.jobKey)
        #expect(base.adding("c", .string("y")).jobKey != base.jobKey)
    }

    @Test("separators inside names and values cannot make two sets collide")
    func noCollisions() {
        let sets: [JobParameters] = [
            ["a": .string("b;c=d")],
            ["a": .string("b"), "c": .string("d")],
            ["a": .string("b,c")],
            ["a,": .string("b")],
            ["a": .string("1:b,")],
            ["a": .string("b"), "": .string("")],
            ["a": .string("b,16:java.lang.String,1:c")],
            ["a": .string("b"), "c": .string("c")],
            ["a=b": .string("")],
            ["a": .string("=b")],
            ["a": .string("")],
            ["": .string("a")],
            ["a": .string("b"), "ab": .string("")],
            ["ab": .string("b")],
        ]
        let forms = sets.map(\.canonicalIdentifyingForm)
        #expect(Set(forms).count == sets.count)
        #expect(Set(sets.map(\.jobKey)).count == sets.count)
    }

    @Test("canonically equivalent Unicode gives the same key, as it gives equal parameters")
    func unicodeNormalization() {
        let composed: JobParameters = ["caf\u{E9}": .string("\u{E9}t\u{E9}")]
        let decomposed: JobParameters = ["cafe\u{301}": .string("e\u{301}te\u{301}")]
        #expect(composed == decomposed)
        #expect(composed.jobKey == decomposed.jobKey)
    }

    @Test("one instant written with different offsets is one job instance")
    func instantSpellings() throws {
        let utc = try JobParameters(parsing: ["at=2026-01-31T10:00:00Z,java.util.Date"])
        let paris = try JobParameters(parsing: ["at=2026-01-31T11:00:00+01:00,datetime"])
        #expect(utc.jobKey == paris.jobKey)
        let local = try JobParameters(parsing: ["at=2026-01-31T10:00:00,datetime"])
        #expect(local.jobKey != utc.jobKey)
    }

    @Test("the key survives a round trip through storage")
    func storageRoundTrip() throws {
        let parameters = try JobParameters(parsing: [
            "a=0.1,double", "b=-9223372036854775808,long", "c=ünï,cödé,string", "d=2026-01-31T10:15:30.5,datetime",
        ])
        var read: [String: JobParameter] = [:]
        for (name, parameter) in parameters {
            read[name] = try JobParameter(
                name: name, storageType: parameter.storageType, storageValue: parameter.storageValue,
                identifying: parameter.identifying)
        }
        #expect(JobParameters(read).jobKey == parameters.jobKey)
    }
}
