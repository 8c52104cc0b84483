import Foundation

/// A Swift type that can be read from a column in PostgreSQL's text format.
public protocol PostgresDecodable {
    /// Reads a value from its text bytes; `context` names the column in errors.
    init(postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType, context: PostgresCell)
        throws
    /// The value NULL decodes to, if the type has one (only Optional does).
    static var postgresNull: Self? { get }
}

extension PostgresDecodable {
    public static var postgresNull: Self? { nil }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static var postgresNull: Self? { .some(.none) }
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        self = .some(try Wrapped(postgresText: bytes, type: type, context: context))
    }
}

extension String: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        self = String(decoding: bytes, as: UTF8.self)
    }
}

extension Int64: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard let value = IntegerText.parse(bytes) else {
            throw context.decodingError("a 64-bit integer")
        }
        self = value
    }
}

extension Int: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard let value = IntegerText.parse(bytes) else {
            throw context.decodingError("an integer")
        }
        self = Int(value)
    }
}

extension Int32: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard let value = IntegerText.parse(bytes), let narrow = Int32(exactly: value) else {
            throw context.decodingError("a 32-bit integer")
        }
        self = narrow
    }
}

extension Int16: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard let value = IntegerText.parse(bytes), let narrow = Int16(exactly: value) else {
            throw context.decodingError("a 16-bit integer")
        }
        self = narrow
    }
}

extension Double: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        switch text {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(text) else { throw context.decodingError("a double") }
            self = value
        }
    }
}

extension Bool: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard bytes.count == 1 else { throw context.decodingError("a boolean") }
        switch bytes[0] {
        case UInt8(ascii: "t"): self = true
        case UInt8(ascii: "f"): self = false
        default: throw context.decodingError("a boolean")
        }
    }
}

extension Decimal: PostgresDecodable {
    /// Reads `numeric` exactly. Foundation's `Decimal` keeps 38 significant digits; a value
    /// with more is refused rather than rounded (decode it as `String` instead).
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        let significant = text.drop { $0 == "-" || $0 == "0" || $0 == "." }
            .filter { $0.isNumber }
        guard significant.count <= 38,
            let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        else {
            throw context.decodingError("an exact decimal (at most 38 significant digits)")
        }
        self = value
    }
}

extension Date: PostgresDecodable {
    /// Reads `timestamptz`, `timestamp` (as UTC) and `date` (midnight UTC).
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard let date = PostgresTimestamp.parse(bytes) else {
            throw context.decodingError("a timestamp")
        }
        self = date
    }
}

extension PostgresBytes: PostgresDecodable {
    /// Reads `bytea` in the server's default hex output (`\x0a1b...`).
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"),
            bytes.count % 2 == 0
        else { throw context.decodingError("bytea in hex format") }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity((bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else {
                throw context.decodingError("bytea in hex format")
            }
            out.append(high << 4 | low)
            index += 2
        }
        self.init(out)
    }
}

extension PostgresJSON: PostgresDecodable {
    public init(
        postgresText bytes: UnsafeBufferPointer<UInt8>, type: PostgresDataType,
        context: PostgresCell
    ) throws {
        self.init(String(decoding: bytes, as: UTF8.self))
    }
}

/// Integer parsing straight from bytes: no String, no allocation.
@usableFromInline
enum IntegerText {
    @usableFromInline
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !bytes.isEmpty else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative || bytes[0] == UInt8(ascii: "+") { index = 1 }
        guard index < bytes.count else { return nil }
        var magnitude: UInt64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- 48
            guard digit < 10 else { return nil }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            guard !o1, !o2 else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
