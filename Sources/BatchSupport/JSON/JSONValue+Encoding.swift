extension JSONValue {
    /// Compact JSON text with object keys sorted, so equal values always give identical text.
    ///
    /// Doubles are written with the shortest digits that read back to the same bits, always with a
    /// `.` or exponent so they come back as doubles and not integers.
    public var jsonText: String {
        var output = ""
        write(to: &output)
        return output
    }

    func write(to output: inout String) {
        switch self {
        case .null:
            output += "null"
        case .bool(let value):
            output += value ? "true" : "false"
        case .int(let value):
            output += String(value)
        case .double(let value):
            if value.isNaN {
                output += "\"NaN\""
            } else if value.isInfinite {
                output += value < 0 ? "\"-Infinity\"" : "\"Infinity\""
            } else {
                // Swift's description is the shortest round-trip form and always has "." or "e".
                output += value.description
            }
        case .string(let value):
            Self.writeString(value, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let members):
            Self.writeObject(members, to: &output)
        }
    }

    /// Appends the members as a JSON object with keys sorted, as ``jsonText`` writes an object.
    package static func writeObject(_ members: [String: JSONValue], to output: inout String) {
        output += "{"
        for (index, key) in members.keys.sorted().enumerated() {
            if index > 0 { output += "," }
            writeString(key, to: &output)
            output += ":"
            members[key]!.write(to: &output)
        }
        output += "}"
    }

    /// Escapes only what JSON requires (quote, backslash, controls); other text, emoji included,
    /// is written as UTF-8.
    static func writeString(_ value: String, to output: inout String) {
        output += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
