import Testing

@testable import Batch

@Suite("ExecutionContext")
struct ExecutionContextTests {
    @Test("typed get and set")
    func typedAccess() {
        var context = ExecutionContext()
        context["reader.last_id"] = .int(42)
        context["reader.file"] = .string("in.csv")
        context["ratio"] = .double(0.5)
        context["done"] = .bool(false)
        context["big"] = 9_223_372_036_854_775_807
        #expect(context.int("reader.last_id") == 42)
        #expect(context.string("reader.file") == "in.csv")
        #expect(context.double("ratio") == 0.5)
        #expect(context.bool("done") == false)
        #expect(context.int("big") == Int64.max)
        #expect(context["reader.last_id"] == .int(42))
        #expect(context.keys == ["big", "done", "ratio", "reader.file", "reader.last_id"])
        #expect(context.count == 5)
        #expect(context.contains("ratio"))

        context["ratio"] = nil
        #expect(!context.contains("ratio"))
        #expect(context.double("ratio") == nil)
    }

    @Test("typed getters do not convert between kinds, except integers read as doubles")
    func noConversion() {
        let context: ExecutionContext = ["i": 1, "d": 1.5, "b": true, "s": "1", "whole": 2.0]
        #expect(context.int("d") == nil)
        #expect(context.int("whole") == nil)
        #expect(context.int("s") == nil)
        #expect(context.int("b") == nil)
        #expect(context.bool("i") == nil)
        #expect(context.string("i") == nil)
        #expect(context.double("i") == 1.0)
        #expect(context.double("s") == nil)
        #expect(context.int("missing") == nil)
    }

    @Test("isDirty tracks real changes only, and does not affect equality")
    func dirtyTracking() {
        var context: ExecutionContext = ["a": 1]
        #expect(!context.isDirty)
        context["a"] = 1
        #expect(!context.isDirty)
        context["a"] = 2
        #expect(context.isDirty)
        context.markClean()
        #expect(!context.isDirty)
        context["missing"] = nil
        #expect(!context.isDirty)
        context["a"] = nil
        #expect(context.isDirty)

        var clean: ExecutionContext = ["x": "y"]
        var dirty = ExecutionContext()
        dirty["x"] = "y"
        #expect(dirty.isDirty && !clean.isDirty)
        #expect(clean == dirty)
        #expect(clean.hashValue == dirty.hashValue)
        clean.markClean()
    }

    @Test("empty context is {}")
    func empty() throws {
        #expect(ExecutionContext().jsonText == "{}")
        #expect(try ExecutionContext(jsonText: "{}").isEmpty)
        #expect(try ExecutionContext(jsonText: " { } ") == ExecutionContext())
        #expect(ExecutionContext().storageForm() == ("{}", nil))
    }

    @Test("serialization is compact, sorted and round-trips exactly")
    func roundTrip() throws {
        let context: ExecutionContext = [
            "reader.last_id": .int(Int64.max),
            "min": .int(Int64.min),
            "flag": true,
            "off": false,
            "ratio": 0.1,
            "whole.double": 3.0,
            "text": "quote \" backslash \\ ctrl \u{1} nl \n é 🎉",
            "nested": ["list": [1, "two", nil, ["x": 1.5]], "empty": [:]],
            "nothing": nil,
        ]
        let text = context.jsonText
        #expect(text.hasPrefix(#"{"flag":true,"min":-9223372036854775808,"nested":{"empty":{},"list":[1,"two",null,{"x":1.5}]}"#))
        let back = try ExecutionContext(jsonText: text)
        #expect(back == context)
        #expect(!back.isDirty)
        #expect(back.int("reader.last_id") == Int64.max)
        #expect(back.bool("flag") == true)
        #expect(back["flag"] == .bool(true))
        #expect(back["whole.double"] == .double(3))
        #expect(back.jsonText == text)
        #expect(context.description == text)
    }

    @Test("NaN and infinities come back through double(_:)")
    func nonFinite() throws {
        let context: ExecutionContext = ["nan": .double(.nan), "inf": .double(.infinity), "ninf": .double(-.infinity)]
        let back = try ExecutionContext(jsonText: context.jsonText)
        #expect(back.double("nan")?.isNaN == true)
        #expect(back.double("inf") == .infinity)
        #expect(back.double("ninf") == -.infinity)
    }

    @Test("text that is not a JSON object is a clear error")
    func notAnObject() {
        for text in ["[1]", "1", "\"x\"", "null"] {
            let error = #expect(throws: JSONParsingError.self) { try ExecutionContext(jsonText: text) }
            #expect(error?.code == .notAnObject)
            #expect(error?.description == "invalid JSON at line 1, column 1: an execution context must be a JSON object ({...})")
        }
        let broken = #expect(throws: JSONParsingError.self) { try ExecutionContext(jsonText: #"{"a":}"#) }
        #expect(broken?.code == .unexpectedCharacter)
    }

    @Test("small contexts are stored whole in the short column")
    func storageShort() throws {
        let context: ExecutionContext = ["a": 1]
        let (short, serialized) = context.storageForm()
        #expect(short == #"{"a":1}"#)
        #expect(serialized == nil)
        #expect(try ExecutionContext(short: short, serialized: serialized) == context)
    }

    @Test("the short column holds up to exactly 2500 characters")
    func storageBoundary() throws {
        #expect(ExecutionContext.shortContextLimit == 2500)
        // {"k":"…"} has 8 characters around the value.
        let exact: ExecutionContext = ["k": .string(String(repeating: "x", count: 2492))]
        #expect(exact.jsonText.count == 2500)
        #expect(exact.storageForm().serialized == nil)

        let over: ExecutionContext = ["k": .string(String(repeating: "x", count: 2493))]
        let (short, serialized) = over.storageForm()
        #expect(serialized == over.jsonText)
        #expect(short.count == 2496)
        #expect(short.hasSuffix(" ..."))
        #expect(over.jsonText.hasPrefix(String(short.dropLast(4))))
        #expect(try ExecutionContext(short: short, serialized: serialized) == over)
    }

    @Test("long contexts with multi-scalar characters never overflow the short column")
    func storageUnicode() throws {
        let family = "👨‍👩‍👧‍👦"  // one Character, seven Unicode scalars
        let context: ExecutionContext = ["k": .string(String(repeating: family, count: 1000))]
        let (short, serialized) = context.storageForm()
        #expect(serialized != nil)
        #expect(short.unicodeScalars.count == 2496)
        #expect(try ExecutionContext(short: short, serialized: serialized) == context)
    }

    @Test("a preview without the full text cannot be read back")
    func truncatedPreview() {
        let context: ExecutionContext = ["k": .string(String(repeating: "x", count: 3000))]
        let error = #expect(throws: JSONParsingError.self) {
            try ExecutionContext(short: context.storageForm().short, serialized: nil)
        }
        #expect(error?.code == .unexpectedEnd)
    }
}
