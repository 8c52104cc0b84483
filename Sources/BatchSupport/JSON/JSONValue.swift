/// A JSON value, with integers kept apart from doubles.
///
/// Restart positions are often 64-bit ids or offsets; a JSON layer that reads every number as a
/// `Double` silently corrupts anything above 2^53. Here a number written without fraction or
/// exponent that fits in `Int64` is ``int(_:)``, everything else is ``double(_:)``, and both
/// round-trip through ``jsonText`` exactly.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`; never confused with `1` and `0`.
    case bool(Bool)
    /// A whole number, exact over the full `Int64` range.
    case int(Int64)
    /// A floating-point number. JSON cannot hold NaN or infinities; they are written as the
    /// strings `"NaN"`, `"Infinity"` and `"-Infinity"` (as Jackson does) and come back as strings,
    /// which `ExecutionContext.double(_:)` reads as doubles again.
    case double(Double)
    /// A string of any Unicode text.
    case string(String)
    /// An ordered list.
    case array([JSONValue])
    /// An object; key order is not kept, and ``jsonText`` writes keys sorted.
    case object([String: JSONValue])
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }

    /// A literal object; a key given twice is a programming error and traps.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, _ in
            preconditionFailure("JSONValue object literal has a duplicate key")
        }))
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text, as ``jsonText``.
    public var description: String { jsonText }
}
