import Testing

@testable import Batch

/// Parses one argument, returning the error instead of throwing it.
private func parseError(_ argument: String) -> JobParametersError? {
    do {
        _ = try JobParameter.parse(argument: argument)
        return nil
    } catch {
        return error
    }
}

private func date(_ text: String) -> JobParameterValue {
    .date(JobParameterDate(text)!)
}

@Suite("JobParameters parsing")
struct JobParametersParsingTests {
    @Test(
        "name=value[,type[,identifying]] in Spring Batch's notation and the aliases",
        arguments: [
            ("name=value", "name", JobParameter.string("value")),
            ("a=b=c", "a", .string("b=c")),
            ("empty=", "empty", .string("")),
            ("s=hello,java.lang.String", "s", .string("hello")),
            ("s=hello,string", "s", .string("hello")),
            ("rows=1000,long", "rows", .long(1000)),
            ("rows=1000,java.lang.Long", "rows", .long(1000)),
            ("rows=7,int", "rows", .long(7)),
            ("rows=7,java.lang.Integer", "rows", .long(7)),
            ("rows=-42,long", "rows", .long(-42)),
            ("rows=+42,long", "rows", .long(42)),
            ("min=-9223372036854775808,long", "min", .long(Int64.min)),
            ("max=9223372036854775807,long", "max", .long(Int64.max)),
            ("ratio=0.25,double", "ratio", .double(0.25)),
            ("ratio=1e-3,java.lang.Double", "ratio", .double(0.001)),
            ("ratio=-.5,double", "ratio", .double(-0.5)),
            ("ratio=3.,double", "ratio", .double(3)),
            ("ratio=1E+10,double", "ratio", .double(1e10)),
            ("ratio=42,double", "ratio", .double(42)),
            ("day=2026-01-31,java.time.LocalDate", "day", JobParameter(date("2026-01-31"))),
            ("day=2026-01-31,date", "day", JobParameter(date("2026-01-31"))),
            ("at=2026-01-31T10:15:30,java.time.LocalDateTime", "at", JobParameter(date("2026-01-31T10:15:30"))),
            ("at=2026-01-31T10:15:30Z,java.util.Date", "at", JobParameter(date("2026-01-31T10:15:30Z"))),
            ("at=2026-01-31T12:15:30+02:00,java.util.Date", "at", JobParameter(date("2026-01-31T10:15:30Z"))),
            ("at=2026-01-31T10:15:30Z,date", "at", JobParameter(date("2026-01-31T10:15:30Z"))),
            ("at=2026-01-31T10:15:30,datetime", "at", JobParameter(date("2026-01-31T10:15:30"))),
            ("at=2026-01-31T12:15:30+02:00,datetime", "at", JobParameter(date("2026-01-31T10:15:30Z"))),
            ("rows=5,long,false", "rows", .long(5, identifying: false)),
            ("rows=5,long,true", "rows", .long(5)),
            ("rows=5,long,TRUE", "rows", .long(5)),
            ("s=x,string,False", "s", .string("x", identifying: false)),
            ("rows=5,LONG", "rows", .long(5)),
            ("rows=5,Int", "rows", .long(5)),
            ("rows=5, long", "rows", .long(5)),
            ("rows=5,long , false ", "rows", .long(5, identifying: false)),
            ("naïve=ünïcödé 🎉", "naïve", .string("ünïcödé 🎉")),
            ("run.id=1,long", "run.id", .long(1)),
        ]
    )
    func valid(argument: String, name: String, expected: JobParameter) throws {
        let parsed = try JobParameter.parse(argument: argument)
        #expect(parsed.name == name)
        #expect(parsed.parameter == expected)
    }

    @Test(
        "commas belong to the value unless they end in a valid type suffix",
        arguments: [
            ("tags=red,green", JobParameter.string("red,green")),
            ("csv=a,b,c", .string("a,b,c")),
            ("msg=hello, world", .string("hello, world")),
            ("tags=red,green,string,false", .string("red,green", identifying: false)),
            ("tags=red,green,java.lang.String", .string("red,green")),
            ("label=a,long,string", .string("a,long")),
            ("label=5,long,true,string", .string("5,long,true")),
            ("trailing=a,", .string("a,")),
            ("only=,", .string(",")),
            ("x=,,string", .string(",")),
            ("url=https://example.com/?a=1,2", .string("https://example.com/?a=1,2")),
        ]
    )
    func commas(argument: String, expected: JobParameter) throws {
        #expect(try JobParameter.parse(argument: argument).parameter == expected)
    }

    @Test("missing = says how to write a parameter")
    func missingEquals() {
        let error = parseError("rows")
        #expect(error?.code == .missingEquals)
        #expect(error?.argument == "rows")
        #expect(error?.description
            == #"parameter "rows": there is no "=" between name and value; write rows=value[,type[,true|false]], e.g. rows=1000,long"#)
        #expect(parseError("")?.code == .missingEquals)
        #expect(parseError("")?.message.contains("write name=value") == true)
    }

    @Test("an empty name is rejected")
    func emptyName() {
        let error = parseError("=5,long")
        #expect(error?.code == .emptyName)
        #expect(error?.description == #"parameter "=5,long": the name before "=" is empty; write name=5,long"#)
        #expect(parseError("  =x")?.code == .emptyName)
    }

    @Test(
        "values that do not fit their type say what to write",
        arguments: [
            ("rows=abc,long", #""abc" is not a whole number; write rows=1000,long"#),
            ("rows=1.5,java.lang.Long", #""1.5" is not a whole number; write rows=1000,java.lang.Long"#),
            ("rows=0x10,long", #""0x10" is not a whole number; write rows=1000,long"#),
            ("rows= 5,long", #"" 5" is not a whole number; write rows=1000,long"#),
            ("rows=,long", "the value is empty, where a whole number was expected; write rows=1000,long"),
            ("rows=abc,int,false", #""abc" is not a whole number; write rows=1000,int,false"#),
            ("rows=9223372036854775808,long",
             #""9223372036854775808" is out of range for a long (-9223372036854775808...9223372036854775807); write rows=1000,long"#),
            ("rows=-99999999999999999999,long",
             #""-99999999999999999999" is out of range for a long (-9223372036854775808...9223372036854775807); write rows=1000,long"#),
            ("r=abc,double", #""abc" is not a decimal number; write r=0.25,double"#),
            ("r=1,5,double", #""1,5" is not a decimal number; write r=0.25,double"#),
            ("r=0x1p3,double", #""0x1p3" is not a decimal number; write r=0.25,double"#),
            ("r=1e,double", #""1e" is not a decimal number; write r=0.25,double"#),
            ("r=NaN,double", #""NaN" is not a finite number; write r=0.25,double"#),
            ("r=Infinity,java.lang.Double", #""Infinity" is not a finite number; write r=0.25,java.lang.Double"#),
            ("r=inf,double", #""inf" is not a finite number; write r=0.25,double"#),
            ("r=1e400,double", #""1e400" is too large for a double (about ±1.8E308 at most); write r=0.25,double"#),
            ("r=,double", "the value is empty, where a decimal number was expected; write r=0.25,double"),
            ("d=2026-02-30,date",
             #""2026-02-30" is not a valid date: day 30 does not exist in 2026-02, which has 28 days; write d=2026-01-31,date"#),
            ("d=2026-13-01,java.time.LocalDate",
             #""2026-13-01" is not a valid date: month 13 does not exist (01-12); write d=2026-01-31,java.time.LocalDate"#),
            ("d=soon,date",
             #""soon" is not a valid date: it does not start with YYYY-MM-DD (write a date as YYYY-MM-DD, a date-time as "#
                + #"YYYY-MM-DDTHH:MM:SS, an instant as YYYY-MM-DDTHH:MM:SSZ); write d=2026-01-31,date"#),
            ("d=2026-01-31T10:00:00,java.time.LocalDate",
             #""2026-01-31T10:00:00" is a date-time without zone (YYYY-MM-DDTHH:MM:SS), where a calendar date (YYYY-MM-DD) "#
                + "was expected; write d=2026-01-31,java.time.LocalDate"),
            ("d=2026-01-31,java.util.Date",
             #""2026-01-31" is a calendar date (YYYY-MM-DD), where an instant (YYYY-MM-DDTHH:MM:SSZ or with an offset) "#
                + "was expected; write d=2026-01-31T10:15:30Z,java.util.Date"),
            ("d=2026-01-31T10:00:00Z,java.time.LocalDateTime",
             #""2026-01-31T10:00:00Z" is an instant (YYYY-MM-DDTHH:MM:SSZ or with an offset), where a date-time without "#
                + "zone (YYYY-MM-DDTHH:MM:SS) was expected; write d=2026-01-31T10:15:30,java.time.LocalDateTime"),
            ("d=2026-01-31,datetime",
             #""2026-01-31" is a calendar date (YYYY-MM-DD), where a date-time without zone (YYYY-MM-DDTHH:MM:SS) or "#
                + "an instant (YYYY-MM-DDTHH:MM:SSZ or with an offset) was expected; write d=2026-01-31T10:15:30Z,datetime"),
        ]
    )
    func badValue(argument: String, message: String) {
        let error = parseError(argument)
        #expect(error?.code == .badValue)
        #expect(error?.argument == argument)
        #expect(error?.message == message)
        #expect(error?.description == "parameter \"\(argument)\": \(message)")
    }

    @Test("unsupported Java types list what is supported")
    func unsupportedType() {
        let supported = "java.lang.String, java.lang.Long, java.lang.Integer, java.lang.Double, java.time.LocalDate, "
            + "java.time.LocalDateTime, java.util.Date, or the aliases string, long, int, double, date, datetime"
        let float = parseError("x=1.5,java.lang.Float")
        #expect(float?.code == .badType)
        #expect(float?.description == #"parameter "x=1.5,java.lang.Float": "java.lang.Float" is not a supported type; use one of "#
            + supported)
        let withFlag = parseError("x=1,java.time.LocalTime,true")
        #expect(withFlag?.code == .badType)
        #expect(withFlag?.message.hasPrefix(#""java.time.LocalTime" is not a supported type; use one of"#) == true)
        let misspelled = parseError("x=1,java.lang.long")
        #expect(misspelled?.code == .badType)
        #expect(misspelled?.message.hasPrefix(
            #""java.lang.long" is not a supported type (did you mean java.lang.Long? class names are case-sensitive); use one of"#)
            == true)
    }

    @Test("an identifying flag where the type goes is an error, not text")
    func flagWithoutType() {
        let error = parseError("x=5,true")
        #expect(error?.code == .badType)
        #expect(error?.description == #"parameter "x=5,true": "true" stands where the type goes; the identifying flag "#
            + "comes after the type: write x=5,string,true")
        let three = parseError("x=a,b,FALSE")
        #expect(three?.code == .badType)
        #expect(three?.message.hasSuffix("write x=a,b,string,false") == true)
        #expect(parseError("x=5,,true")?.code == .badType)
    }

    @Test("a bad identifying flag after a type is an error")
    func badIdentifying() {
        let error = parseError("rows=5,long,yes")
        #expect(error?.code == .badIdentifying)
        #expect(error?.description == #"parameter "rows=5,long,yes": identifying must be true or false, not "yes"; "#
            + "write rows=5,long,false (or end a text value containing commas with ,string)")
        #expect(parseError("rows=5,long,")?.code == .badIdentifying)
        #expect(parseError("rows=5,long,1")?.code == .badIdentifying)
    }

    @Test("a name given twice is an error naming both arguments")
    func duplicateName() {
        let error = #expect(throws: JobParametersError.self) {
            try JobParameters(parsing: ["a=1,long", "b=2", "a=3,long"])
        }
        #expect(error?.code == .duplicateName)
        #expect(error?.argument == "a=3,long")
        #expect(error?.description == #"parameter "a=3,long": "a" is already given by "a=1,long"; give each parameter once"#)
        // Same value twice is still a mistake in the command line.
        #expect(throws: JobParametersError.self) { try JobParameters(parsing: ["a=1", "a=1"]) }
    }

    @Test("parsing several arguments builds sorted parameters")
    func parsingSeveral() throws {
        let parameters = try JobParameters(parsing: ["z=1,long", "a=x", "m=2026-01-31,date,false"])
        #expect(parameters.names == ["a", "m", "z"])
        #expect(parameters.long("z") == 1)
        #expect(parameters.string("a") == "x")
        #expect(parameters["m"]?.identifying == false)
        #expect(try JobParameters(parsing: [String]()).isEmpty)
    }

    @Test("the first bad argument is reported")
    func firstBadArgument() {
        let error = #expect(throws: JobParametersError.self) {
            try JobParameters(parsing: ["ok=1", "bad=x,long", "worse"])
        }
        #expect(error?.argument == "bad=x,long")
    }

    @Test(
        "commandLineArgument parses back to the same parameter",
        arguments: [
            JobParameter.string(""), .string("plain"), .string("a,b"), .string("a,long"), .string("5,long,true"),
            .string("x=y"), .string("true"), .string("java.lang.Float"), .string(" spaced "), .string("ünï 🎉\nline"),
            .string("trailing,", identifying: false), .long(0), .long(Int64.min), .long(Int64.max, identifying: false),
            .double(0.1), .double(-1e300), .double(.leastNonzeroMagnitude), .double(123456789.125),
            JobParameter(date("2026-01-31")), JobParameter(date("2026-01-31T10:15:30.5"), identifying: false),
            JobParameter(date("2026-01-31T10:15:30.123Z")),
        ]
    )
    func commandLineRoundTrip(parameter: JobParameter) throws {
        let argument = parameter.commandLineArgument(name: "p")
        let parsed = try JobParameter.parse(argument: argument)
        #expect(parsed.name == "p")
        #expect(parsed.parameter == parameter)
    }

    @Test("error codes compare and print by name")
    func errorCodes() {
        #expect(JobParametersError.Code.badValue == .badValue)
        #expect(JobParametersError.Code.badValue != .badType)
        #expect(JobParametersError.Code.duplicateName.description == "duplicateName")
        let error = JobParametersError(code: .badType, argument: "a", message: "m")
        #expect(error.debugDescription == #"JobParametersError(code: badType, argument: "a", message: "m")"#)
    }
}
