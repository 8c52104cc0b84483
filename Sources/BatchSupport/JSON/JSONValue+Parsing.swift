extension JSONValue {
    /// How deeply arrays and objects may nest before parsing gives up, so hostile or corrupt input
    /// cannot exhaust the stack.
    public static let maximumDepth = 512

    /// Parses JSON text (RFC 8259) strictly.
    ///
    /// Whole numbers that fit in `Int64` become ``int(_:)``; others become ``double(_:)``.
    /// Rejected: trailing commas, comments, single quotes, raw control characters in strings,
    /// lone surrogate escapes, duplicate object keys, numbers too large for a double, and
    /// anything after the value.
    ///
    /// - Parameter jsonText: The text to parse.
    /// - Throws: ``JSONParsingError`` naming the line and column of the first problem.
    public init(jsonText: String) throws(JSONParsingError) {
        var parser = JSONParser(jsonText)
        self = try parser.parseDocument()
    }
}

/// A recursive-descent parser over the text's UTF-8 bytes.
///
/// Visible to the package so a caller that needs one shape of document (the batch model's
/// execution context wants an object) can parse and then report its own error at a position
/// with ``error(_:_:at:)``; everyone else uses ``JSONValue/init(jsonText:)``.
package struct JSONParser {
    private let text: String
    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0

    package init(_ text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    package mutating func parseDocument() throws(JSONParsingError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else {
            throw error(.unexpectedCharacter, "unexpected \(found) after the end of the value")
        }
        return value
    }

    /// Builds an error at the current position; line and column are only worked out here.
    package func error(_ code: JSONParsingError.Code, _ message: String, at offset: Int? = nil) -> JSONParsingError {
        let offset = offset ?? position
        var line = 1
        var lineStart = 0
        for index in 0..<offset where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        // UTF-8 continuation bytes do not start a scalar.
        let column = bytes[lineStart..<offset].count { $0 & 0xC0 != 0x80 } + 1
        return JSONParsingError(code: code, message: message, line: line, column: column, byteOffset: offset)
    }

    /// The character at the current position, quoted, or "the end of the text".
    private var found: String {
        guard position < bytes.count else { return "the end of the text" }
        let index = text.utf8.index(text.utf8.startIndex, offsetBy: position)
        guard let scalar = text.unicodeScalars[index...].first else { return "the end of the text" }
        // Invisible characters are shown escaped; a quote is wrapped in the other kind of quote.
        let shown = scalar.value < 0x20 || scalar.value == 0x7F ? scalar.escaped(asASCII: true) : String(scalar)
        return scalar == "'" ? "\"\(shown)\"" : "'\(shown)'"
    }

    private var peek: UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            position += 1
        }
    }

    private mutating func expect(_ literal: String, for value: JSONValue) throws(JSONParsingError) -> JSONValue {
        let start = position
        for expected in literal.utf8 {
            guard peek == expected else {
                throw error(.unexpectedCharacter, "expected '\(literal)', found \(found)", at: start)
            }
            position += 1
        }
        return value
    }

    private mutating func parseValue() throws(JSONParsingError) -> JSONValue {
        guard let byte = peek else {
            throw error(.unexpectedEnd, "expected a value, found the end of the text")
        }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", for: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", for: .bool(false))
        case UInt8(ascii: "n"): return try expect("null", for: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error(.unexpectedCharacter, "expected a value, found \(found)")
        }
    }

    private mutating func enterContainer() throws(JSONParsingError) {
        depth += 1
        guard depth <= JSONValue.maximumDepth else {
            throw error(.tooDeep, "arrays and objects nest deeper than \(JSONValue.maximumDepth) levels")
        }
        position += 1
        skipWhitespace()
    }

    private mutating func parseObject() throws(JSONParsingError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        var members: [String: JSONValue] = [:]
        if peek == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            guard peek == UInt8(ascii: "\"") else {
                let code: JSONParsingError.Code = peek == nil ? .unexpectedEnd : .unexpectedCharacter
                throw error(code, "expected a string key in double quotes, found \(found)")
            }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else {
                let code: JSONParsingError.Code = peek == nil ? .unexpectedEnd : .unexpectedCharacter
                throw error(code, "expected ':' after the key \"\(key)\", found \(found)")
            }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            guard members.updateValue(value, forKey: key) == nil else {
                throw error(.duplicateKey, "the key \"\(key)\" appears twice in one object", at: keyOffset)
            }
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            case nil:
                throw error(.unexpectedEnd, "expected ',' or '}' in an object, found the end of the text")
            default:
                throw error(.unexpectedCharacter, "expected ',' or '}' in an object, found \(found)")
            }
        }
    }

    private mutating func parseArray() throws(JSONParsingError) -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        var elements: [JSONValue] = []
        if peek == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            case nil:
                throw error(.unexpectedEnd, "expected ',' or ']' in an array, found the end of the text")
            default:
                throw error(.unexpectedCharacter, "expected ',' or ']' in an array, found \(found)")
            }
        }
    }

    private mutating func parseString() throws(JSONParsingError) -> String {
        position += 1  // the opening quote
        var utf8: [UInt8] = []
        while true {
            guard let byte = peek else {
                throw error(.unexpectedEnd, "a string is not closed with '\"' before the end of the text")
            }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                // The input came from a Swift String, so its bytes are valid UTF-8.
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let escapeStart = position
                position += 1
                guard let escaped = peek else {
                    throw error(.unexpectedEnd, "a string ends in the middle of an escape")
                }
                position += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    let scalar = try parseUnicodeEscape(startingAt: escapeStart)
                    utf8.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    position = escapeStart
                    throw error(.invalidString, "'\\\(Character(Unicode.Scalar(escaped)))' is not a JSON escape; "
                        + "use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX")
                }
            case 0x00..<0x20:
                throw error(.invalidString, "a control character (U+\(Self.hex4(UInt32(byte)))) must be escaped inside a string")
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }

    /// Reads `XXXX` (after `\u`), and a following `\uXXXX` low surrogate when the first is high.
    private mutating func parseUnicodeEscape(startingAt escapeStart: Int) throws(JSONParsingError) -> Unicode.Scalar {
        let first = try parseHex4(escapeStart: escapeStart)
        if (0xD800..<0xDC00).contains(first) {
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
            else {
                throw error(.invalidString, "\\u\(Self.hex4(first)) is a high surrogate without a low surrogate after it",
                            at: escapeStart)
            }
            position += 2
            let second = try parseHex4(escapeStart: escapeStart)
            guard (0xDC00..<0xE000).contains(second) else {
                throw error(.invalidString, "\\u\(Self.hex4(first)) is a high surrogate followed by \\u\(Self.hex4(second)), "
                    + "which is not a low surrogate", at: escapeStart)
            }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        }
        guard let scalar = Unicode.Scalar(first) else {
            throw error(.invalidString, "\\u\(Self.hex4(first)) is a low surrogate without a high surrogate before it",
                        at: escapeStart)
        }
        return scalar
    }

    private mutating func parseHex4(escapeStart: Int) throws(JSONParsingError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek, let digit = Self.hexValue(byte) else {
                throw error(.invalidString, "\\u must be followed by four hex digits", at: escapeStart)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as RFC 8259 defines a number.
    private mutating func parseNumber() throws(JSONParsingError) -> JSONValue {
        let start = position
        func isDigit(_ byte: UInt8?) -> Bool {
            byte.map { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } ?? false
        }
        func invalid(_ what: String) -> JSONParsingError {
            let code: JSONParsingError.Code = peek == nil ? .unexpectedEnd : .invalidNumber
            return error(code, "\(what), found \(found)")
        }
        if peek == UInt8(ascii: "-") { position += 1 }
        if peek == UInt8(ascii: "0") {
            position += 1
            if isDigit(peek) {
                throw error(.invalidNumber, "a number cannot have a leading zero", at: start)
            }
        } else if isDigit(peek) {
            while isDigit(peek) { position += 1 }
        } else {
            throw invalid("expected a digit in a number")
        }
        var isWhole = true
        if peek == UInt8(ascii: ".") {
            isWhole = false
            position += 1
            guard isDigit(peek) else { throw invalid("expected a digit after the decimal point") }
            while isDigit(peek) { position += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            isWhole = false
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            guard isDigit(peek) else { throw invalid("expected a digit in the exponent") }
            while isDigit(peek) { position += 1 }
        }
        let literal = String(decoding: bytes[start..<position], as: UTF8.self)
        if isWhole, let integer = Int64(literal) {
            return .int(integer)
        }
        // Whole numbers beyond Int64 fall back to a double, as most JSON readers do.
        guard let number = Double(literal), number.isFinite else {
            throw error(.invalidNumber, "the number \(literal) is too large for a double", at: start)
        }
        return .double(number)
    }
}
