import Foundation

/// A Swift value that can be sent to PostgreSQL as a bound parameter or a COPY field.
///
/// Values travel in PostgreSQL's text format; the declared type only guides the server's
/// inference. Implementations append their text form to `buffer`. PostgreSQL text cannot hold
/// U+0000: a value whose text holds a NUL is refused when the statement runs (see
/// ``PostgresBindings``), and a COPY row holding one is refused at its end.
public protocol PostgresEncodable {
    /// The type announced with a bound parameter; `.unspecified` lets the server infer it.
    static var postgresType: PostgresDataType { get }
    /// The type announced for this value; ``postgresType`` unless a type's values differ (a
    /// date that may be a calendar date or a timestamp). A NULL of the type announces
    /// ``postgresType``.
    var postgresValueType: PostgresDataType { get }
    /// Appends the value in PostgreSQL's text format.
    func encodeText(into buffer: inout [UInt8])
}

extension PostgresEncodable {
    @inlinable
    public var postgresValueType: PostgresDataType { Self.postgresType }
}

extension String: PostgresEncodable {
    public static var postgresType: PostgresDataType { .unspecified }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: self.utf8)
    }
}

extension Substring: PostgresEncodable {
    public static var postgresType: PostgresDataType { .unspecified }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: self.utf8)
    }
}

extension Int64: PostgresEncodable {
    public static var postgresType: PostgresDataType { .int8 }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        DecimalText.append(self, to: &buffer)
    }
}

extension Int: PostgresEncodable {
    public static var postgresType: PostgresDataType { .int8 }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        DecimalText.append(Int64(self), to: &buffer)
    }
}

extension Int32: PostgresEncodable {
    public static var postgresType: PostgresDataType { .int4 }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        DecimalText.append(Int64(self), to: &buffer)
    }
}

extension Int16: PostgresEncodable {
    public static var postgresType: PostgresDataType { .int2 }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        DecimalText.append(Int64(self), to: &buffer)
    }
}

extension Bool: PostgresEncodable {
    public static var postgresType: PostgresDataType { .bool }
    @inlinable
    public func encodeText(into buffer: inout [UInt8]) {
        buffer.append(self ? UInt8(ascii: "t") : UInt8(ascii: "f"))
    }
}

extension Double: PostgresEncodable {
    public static var postgresType: PostgresDataType { .float8 }
    public func encodeText(into buffer: inout [UInt8]) {
        // Swift prints the shortest text that reads back as the same Double; PostgreSQL's
        // float8 input accepts it, including "inf", "-inf" and "nan" spelled its way.
        if self.isNaN {
            buffer.append(contentsOf: "NaN".utf8)
        } else if self.isInfinite {
            buffer.append(contentsOf: (self < 0 ? "-Infinity" : "Infinity").utf8)
        } else {
            buffer.append(contentsOf: self.description.utf8)
        }
    }
}

extension Decimal: PostgresEncodable {
    public static var postgresType: PostgresDataType { .numeric }
    public func encodeText(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: self.description.utf8)
    }
}

extension Date: PostgresEncodable {
    public static var postgresType: PostgresDataType { .timestamptz }
    public func encodeText(into buffer: inout [UInt8]) {
        PostgresTimestamp.appendText(for: self, to: &buffer)
    }
}

/// Raw bytes for a `bytea` column (hex text format on the wire).
public struct PostgresBytes: Hashable, Sendable, PostgresEncodable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public static var postgresType: PostgresDataType { .bytea }
    public func encodeText(into buffer: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        buffer.reserveCapacity(buffer.count + 2 + bytes.count * 2)
        buffer.append(UInt8(ascii: "\\"))
        buffer.append(UInt8(ascii: "x"))
        for byte in bytes {
            buffer.append(digits[Int(byte >> 4)])
            buffer.append(digits[Int(byte & 0x0F)])
        }
    }
}

/// A JSON document, kept as its text. Binds into `json` and `jsonb` columns alike.
public struct PostgresJSON: Hashable, Sendable, PostgresEncodable {
    public var text: String
    public init(_ text: String) { self.text = text }

    /// Encodes a value with `JSONEncoder` (keys sorted, so equal values give equal text).
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        self.text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes the document into `T` with `JSONDecoder`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    public static var postgresType: PostgresDataType { .unspecified }
    public func encodeText(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: text.utf8)
    }
}

/// Fast decimal text for integers, without going through `String`.
@usableFromInline
enum DecimalText {
    @inlinable
    static func append(_ value: Int64, to buffer: inout [UInt8]) {
        if value == 0 {
            buffer.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        // 20 digits hold UInt64.max.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var index = 20
            while magnitude > 0 {
                index -= 1
                digits[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: digits[index..<20]))
        }
    }
}
