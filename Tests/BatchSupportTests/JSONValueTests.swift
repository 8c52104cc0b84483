import BatchSupport
import Testing

private func parse(_ text: String) throws(JSONParsingError) -> JSONValue {
    try JSONValue(jsonText: text)
}

private func parseError(_ text: String) -> JSONParsingError? {
    do {
        _ = try JSONValue(jsonText: text)
        return nil
    } catch {
        return error
    }
}

@Suite("JSONValue")
struct JSONValueTests {
    @Test("integers are exact across the whole Int64 range")
    func integers() throws {
        for value in [Int64.max, Int64.min, 0, -1, 9_007_199_254_740_993, -9_007_199_254_740_993] {
            let text = JSONValue.int(value).jsonText
            #expect(text == String(value))
            #expect(try parse(text) == .int(value))
        }
        #expect(try parse("-0") == .int(0))
    }

    @Test("whole numbers beyond Int64 become doubles")
    func bigIntegers() throws {
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808.0))
        #expect(try parse("-18446744073709551616") == .double(-18_446_744_073_709_551_616.0))
    }

    @Test("doubles stay doubles and round-trip bit for bit")
    func doubles() throws {
        for value in [1.0, 0.1, -2.5, 1e300, 1e-300, .leastNonzeroMagnitude, 1.7976931348623157e308, 1e16, 123456.789, 0.0] {
            let text = JSONValue.double(value).jsonText
            guard case .double(let read) = try parse(text) else {
                Issue.record("\(text) did not parse as a double")
                continue
            }
            #expect(read.bitPattern == value.bitPattern, "\(text)")
        }
        #expect(JSONValue.double(1).jsonText == "1.0")
        #expect(try parse("1.0") == .double(1))
        #expect(try parse("1e2") == .double(100))
        #expect(try parse("1E+2") == .double(100))
        #expect(try parse("-0.5e-1") == .double(-0.05))
    }

    @Test("non-finite doubles are written as Jackson's strings")
    func nonFinite() {
        #expect(JSONValue.double(.nan).jsonText == #""NaN""#)
        #expect(JSONValue.double(.infinity).jsonText == #""Infinity""#)
        #expect(JSONValue.double(-.infinity).jsonText == #""-Infinity""#)
    }

    @Test("booleans stay booleans, not 1 and 0")
    func booleans() throws {
        #expect(try parse("true") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("1") == .int(1))
        #expect(try parse("true") != .int(1))
        #expect(JSONValue.bool(true).jsonText == "true")
        #expect(try parse("null") == .null)
        #expect(JSONValue.null.jsonText == "null")
    }

    @Test(
        "strings with anything in them round-trip",
        arguments: [
            "", "plain", "quote \" and backslash \\ and slash /", "tab\tnewline\ncr\rbackspace\u{8}formfeed\u{C}",
            "nul \u{0} unit \u{1F} del \u{7F}", "ünïcödé", "emoji 🎉 family 👨‍👩‍👧‍👦 flag 🇫🇷", "e\u{301} combining",
            "line sep \u{2028} para \u{2029}", "max \u{10FFFF}", "bom \u{FEFF}", "json {\"a\":[1,2]}",
        ]
    )
    func strings(text: String) throws {
        let encoded = JSONValue.string(text).jsonText
        #expect(try parse(encoded) == .string(text))
        guard case .string(let read) = try parse(encoded) else { return }
        #expect(Array(read.unicodeScalars) == Array(text.unicodeScalars))
    }

    @Test("control characters are escaped, everything else is written as UTF-8")
    func escaping() {
        #expect(JSONValue.string("a\"b\\c\n\t\u{0}\u{1F}é🎉/").jsonText == #""a\"b\\c\n\t\u0000\u001fé🎉/""#)
        #expect(JSONValue.string("\u{8}\u{C}\r").jsonText == #""\b\f\r""#)
    }

    @Test("escapes are decoded, surrogate pairs included")
    func escapes() throws {
        #expect(try parse(#""\u00e9\u00C9""#) == .string("éÉ"))
        #expect(try parse(#""\ud83c\udf89""#) == .string("🎉"))
        #expect(try parse(#""\/\b\f\n\r\t\"\\""#) == .string("/\u{8}\u{C}\n\r\t\"\\"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test("nested arrays and objects round-trip, with keys written sorted")
    func nested() throws {
        let value: JSONValue = [
            "z": [1, 2.5, "three", nil, true, ["deep": ["deeper": []]]],
            "a": [:],
            "m": ["y": -1, "x": "é"],
        ]
        let text = value.jsonText
        #expect(text == #"{"a":{},"m":{"x":"é","y":-1},"z":[1,2.5,"three",null,true,{"deep":{"deeper":[]}}]}"#)
        #expect(try parse(text) == value)
        #expect(try parse(" \n\t{ \"a\" : [ 1 , 2 ] }\r\n ") == ["a": [1, 2]])
        #expect(value.description == text)
    }

    @Test("the same object always gives the same text")
    func deterministic() {
        var members: [String: JSONValue] = [:]
        for index in (0..<200).reversed() { members["key\(index)"] = .int(Int64(index)) }
        var other: [String: JSONValue] = [:]
        for index in 0..<200 { other["key\(index)"] = .int(Int64(index)) }
        #expect(JSONValue.object(members).jsonText == JSONValue.object(other).jsonText)
    }

    @Test(
        "malformed JSON is rejected with its code",
        arguments: [
            ("", JSONParsingError.Code.unexpectedEnd, "expected a value, found the end of the text"),
            ("   ", .unexpectedEnd, "expected a value, found the end of the text"),
            ("{", .unexpectedEnd, "expected a string key in double quotes, found the end of the text"),
            (#"{"a"}"#, .unexpectedCharacter, #"expected ':' after the key "a", found '}'"#),
            (#"{"a":1,}"#, .unexpectedCharacter, "expected a string key in double quotes, found '}'"),
            (#"{"a":1 "b":2}"#, .unexpectedCharacter, #"expected ',' or '}' in an object, found '"'"#),
            ("{a:1}", .unexpectedCharacter, "expected a string key in double quotes, found 'a'"),
            ("[1,]", .unexpectedCharacter, "expected a value, found ']'"),
            ("[1 2]", .unexpectedCharacter, "expected ',' or ']' in an array, found '2'"),
            ("[1", .unexpectedEnd, "expected ',' or ']' in an array, found the end of the text"),
            ("01", .invalidNumber, "a number cannot have a leading zero"),
            ("1.", .unexpectedEnd, "expected a digit after the decimal point, found the end of the text"),
            ("1.x", .invalidNumber, "expected a digit after the decimal point, found 'x'"),
            ("-", .unexpectedEnd, "expected a digit in a number, found the end of the text"),
            ("-a", .invalidNumber, "expected a digit in a number, found 'a'"),
            ("1e", .unexpectedEnd, "expected a digit in the exponent, found the end of the text"),
            ("+1", .unexpectedCharacter, "expected a value, found '+'"),
            (".5", .unexpectedCharacter, "expected a value, found '.'"),
            ("1e400", .invalidNumber, "the number 1e400 is too large for a double"),
            ("NaN", .unexpectedCharacter, "expected a value, found 'N'"),
            ("tru", .unexpectedCharacter, "expected 'true', found the end of the text"),
            ("nul", .unexpectedCharacter, "expected 'null', found the end of the text"),
            ("fals3", .unexpectedCharacter, "expected 'false', found '3'"),
            ("'a'", .unexpectedCharacter, #"expected a value, found "'""#),
            (#""abc"#, .unexpectedEnd, "a string is not closed with '\"' before the end of the text"),
            (#""\x""#, .invalidString, #"'\x' is not a JSON escape; use \", \\, \/, \b, \f, \n, \r, \t or \uXXXX"#),
            (#""\u12""#, .invalidString, #"\u must be followed by four hex digits"#),
            (#""\ud800""#, .invalidString, #"\uD800 is a high surrogate without a low surrogate after it"#),
            (#""\ud800\u0041""#, .invalidString, #"\uD800 is a high surrogate followed by \u0041, which is not a low surrogate"#),
            (#""\udc00""#, .invalidString, #"\uDC00 is a low surrogate without a high surrogate before it"#),
            ("\"a\u{1}b\"", .invalidString, "a control character (U+0001) must be escaped inside a string"),
            ("\"a\nb\"", .invalidString, "a control character (U+000A) must be escaped inside a string"),
            (#"{"a":1,"a":2}"#, .duplicateKey, #"the key "a" appears twice in one object"#),
            ("1 2", .unexpectedCharacter, "unexpected '2' after the end of the value"),
            ("{} x", .unexpectedCharacter, "unexpected 'x' after the end of the value"),
            ("[1] // comment", .unexpectedCharacter, "unexpected '/' after the end of the value"),
            ("\u{FEFF}{}", .unexpectedCharacter, "expected a value, found '\u{FEFF}'"),
        ]
    )
    func malformed(text: String, code: JSONParsingError.Code, message: String) {
        let error = parseError(text)
        #expect(error?.code == code)
        #expect(error?.message == message)
    }

    @Test("errors point at the line and column")
    func position() {
        let error = parseError("{\n  \"a\": tru\n}")
        #expect(error?.line == 2)
        #expect(error?.column == 8)
        #expect(error?.byteOffset == 9)  // the start of the literal
        #expect(error?.description == "invalid JSON at line 2, column 8: expected 'true', found '\\n'")

        // Columns count characters, not UTF-8 bytes.
        let unicode = parseError(#"{"é🎉": x}"#)
        #expect(unicode?.line == 1)
        #expect(unicode?.column == 8)

        let duplicate = parseError("{\"a\":1,\n\"a\":2}")
        #expect(duplicate?.line == 2)
        #expect(duplicate?.column == 1)
    }

    @Test("nesting deeper than the limit is refused instead of exhausting the stack")
    func depth() throws {
        let deepest = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        #expect(throws: Never.self) { try parse(deepest) }
        let tooDeep = String(repeating: "[", count: 100_000)
        let error = parseError(tooDeep)
        #expect(error?.code == .tooDeep)
        #expect(error?.message == "arrays and objects nest deeper than 512 levels")
        #expect(parseError(String(repeating: #"{"a":"#, count: 600))?.code == .tooDeep)
    }

    @Test("error codes and debug description")
    func errorCodes() {
        #expect(JSONParsingError.Code.tooDeep.description == "tooDeep")
        let error = JSONParsingError(code: .invalidNumber, message: "m", line: 1, column: 2, byteOffset: 1)
        #expect(error.debugDescription == #"JSONParsingError(code: invalidNumber, line: 1, column: 2, byteOffset: 1, message: "m")"#)
    }
}
