import Testing

@testable import Batch

/// Writes a parameter the way the repository does and reads it back.
private func roundTrip(_ parameter: JobParameter, name: String = "p") throws -> JobParameter {
    try JobParameter(
        name: name, storageType: parameter.storageType, storageValue: parameter.storageValue,
        identifying: parameter.identifying)
}

/// Deterministic pseudo-random bits (SplitMix64), so failures reproduce.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("JobParameter storage")
struct JobParameterStorageTests {
    @Test("storage types are Spring Batch 5's Java class names")
    func storageTypes() throws {
        #expect(JobParameter.string("x").storageType == "java.lang.String")
        #expect(JobParameter.long(1).storageType == "java.lang.Long")
        #expect(JobParameter.double(1).storageType == "java.lang.Double")
        #expect(JobParameter.date(try JobParameterDate(parsing: "2026-01-31")).storageType == "java.time.LocalDate")
        #expect(JobParameter.date(try JobParameterDate(parsing: "2026-01-31T10:15:30")).storageType
            == "java.time.LocalDateTime")
        #expect(JobParameter.date(try JobParameterDate(parsing: "2026-01-31T10:15:30Z")).storageType == "java.util.Date")
    }

    @Test(
        "doubles are stored in Java's Double.toString layout",
        arguments: [
            (0.1, "0.1"), (100.0, "100.0"), (1.0, "1.0"), (-2.5, "-2.5"), (0.001, "0.001"), (0.00123, "0.00123"),
            (1e-4, "1.0E-4"), (1e7, "1.0E7"), (9_999_999.0, "9999999.0"), (12_345_678.0, "1.2345678E7"),
            (123_456.789, "123456.789"), (1e300, "1.0E300"), (-1e300, "-1.0E300"), (1.5e-300, "1.5E-300"),
            (1.7976931348623157e308, "1.7976931348623157E308"), (0.0, "0.0"), (-0.0, "0.0"),
            (Double.leastNonzeroMagnitude, "5.0E-324"), (1e16, "1.0E16"), (123456789012345680.0, "1.2345678901234568E17"),
            (Double.nan, "NaN"), (Double.infinity, "Infinity"), (-Double.infinity, "-Infinity"),
        ]
    )
    func doubleText(value: Double, text: String) {
        #expect(JobParameter.double(value).storageValue == text)
    }

    @Test("other values are stored as their plain text")
    func storageValues() throws {
        #expect(JobParameter.long(Int64.min).storageValue == "-9223372036854775808")
        #expect(JobParameter.string("a,b=c").storageValue == "a,b=c")
        #expect(JobParameter.date(try JobParameterDate(parsing: "2026-01-31T12:00:00+02:00")).storageValue
            == "2026-01-31T10:00:00Z")
        #expect(JobParameterValue.long(5).description == "5")
        #expect(JobParameter.long(5, identifying: false).description == "5,java.lang.Long,false")
    }

    @Test(
        "round trip through storage is exact",
        arguments: [
            JobParameter.string(""), .string("plain"), .string("ünïcödé 🎉 \u{0}\n\t\"'\\"), .string("👨‍👩‍👧‍👦"),
            .string("e\u{301}"), .string("1,java.lang.Long,true"), .string("x", identifying: false),
            .long(0), .long(-1), .long(-42), .long(Int64.min), .long(Int64.max), .long(7, identifying: false),
            .double(0.1), .double(0.2 + 0.1), .double(1e300), .double(-1e-300), .double(1e16), .double(3.141592653589793),
            .double(Double.leastNonzeroMagnitude), .double(Double.greatestFiniteMagnitude), .double(-0.0),
            .double(Double.infinity), .double(-Double.infinity),
            .date(JobParameterDate("2026-01-31")!), .date(JobParameterDate("2026-01-31T10:15:30.123456789")!),
            .date(JobParameterDate("2026-01-31T10:15:30.000001Z")!, identifying: false),
        ]
    )
    func roundTripExact(parameter: JobParameter) throws {
        let back = try roundTrip(parameter)
        #expect(back == parameter)
        if case .double(let original) = parameter.value, case .double(let read) = back.value {
            #expect(read.bitPattern == original.bitPattern || (original == 0 && read == 0))
        }
    }

    @Test("NaN survives storage as NaN")
    func nanRoundTrip() throws {
        guard case .double(let value) = try roundTrip(.double(.nan)).value else {
            Issue.record("NaN did not come back as a double")
            return
        }
        #expect(value.isNaN)
    }

    @Test("10,000 random doubles round-trip bit for bit")
    func randomDoubles() throws {
        var random = SplitMix64(state: 2026)
        var checked = 0
        while checked < 10_000 {
            let value = Double(bitPattern: random.next())
            guard value.isFinite, value != 0 else { continue }
            let text = JobParameter.double(value).storageValue
            guard case .double(let read) = try roundTrip(.double(value)).value else {
                Issue.record("\(text) did not come back as a double")
                return
            }
            #expect(read.bitPattern == value.bitPattern, "\(value) stored as \(text)")
            checked += 1
        }
    }

    @Test("random longs round-trip")
    func randomLongs() throws {
        var random = SplitMix64(state: 7)
        for _ in 0..<1000 {
            let value = Int64(bitPattern: random.next())
            #expect(try roundTrip(.long(value)) == .long(value))
        }
    }

    @Test("java.lang.Integer rows written by Spring Batch read as longs")
    func integerRows() throws {
        let parameter = try JobParameter(name: "n", storageType: "java.lang.Integer", storageValue: "12", identifying: true)
        #expect(parameter == .long(12))
        #expect(parameter.storageType == "java.lang.Long")
    }

    @Test("an unknown stored type is a badType error that says where the row is from")
    func unknownStoredType() {
        let error = #expect(throws: JobParametersError.self) {
            try JobParameter(name: "x", storageType: "java.lang.Float", storageValue: "1.5", identifying: true)
        }
        #expect(error?.code == .badType)
        #expect(error?.argument == "x=1.5,java.lang.Float,true")
        #expect(error?.description == #"parameter "x=1.5,java.lang.Float,true": stored type "java.lang.Float" is not one "#
            + "SwiftBatch reads (java.lang.String, java.lang.Long, java.lang.Integer, java.lang.Double, java.time.LocalDate, "
            + "java.time.LocalDateTime, java.util.Date); the row in batch_job_execution_params was written by something else "
            + "or edited")
        // Aliases are for people typing; stored rows must carry the class name.
        #expect(throws: JobParametersError.self) {
            try JobParameter(name: "x", storageType: "long", storageValue: "1", identifying: true)
        }
    }

    @Test(
        "a stored value that does not parse as its type is a badValue error",
        arguments: [
            ("java.lang.Long", "abc", #""abc" is not a whole number (stored type java.lang.Long)"#),
            ("java.lang.Long", "", "the value is empty, where a whole number was expected (stored type java.lang.Long)"),
            ("java.lang.Double", "1,5", #""1,5" is not a decimal number (stored type java.lang.Double)"#),
            ("java.lang.Double", "nan", #""nan" is not a finite number (stored type java.lang.Double)"#),
            ("java.time.LocalDate", "2026-02-30",
             #""2026-02-30" is not a valid date: day 30 does not exist in 2026-02, which has 28 days (stored type java.time.LocalDate)"#),
            ("java.time.LocalDate", "2026-01-31T00:00:00",
             #""2026-01-31T00:00:00" is a date-time without zone (YYYY-MM-DDTHH:MM:SS), where a calendar date (YYYY-MM-DD) "#
                + "was expected (stored type java.time.LocalDate)"),
            ("java.util.Date", "2026-01-31T10:15:30",
             #""2026-01-31T10:15:30" is a date-time without zone (YYYY-MM-DDTHH:MM:SS), where an instant "#
                + "(YYYY-MM-DDTHH:MM:SSZ or with an offset) was expected (stored type java.util.Date)"),
        ]
    )
    func badStoredValue(type: String, value: String, message: String) {
        let error = #expect(throws: JobParametersError.self) {
            try JobParameter(name: "x", storageType: type, storageValue: value, identifying: false)
        }
        #expect(error?.code == .badValue)
        #expect(error?.argument == "x=\(value),\(type),false")
        #expect(error?.message == message
            + "; the row in batch_job_execution_params was written by something else or edited")
    }
}
