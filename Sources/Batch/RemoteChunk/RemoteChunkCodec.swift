import Foundation

/// How a remote chunk step's items travel through the repository: the manager encodes each
/// chunk's items into one text, a worker decodes them. Called once per chunk.
public protocol RemoteChunkCodec<Item>: Sendable {
    associatedtype Item
    func encode(_ items: [Item]) throws -> String
    /// - Parameters:
    ///   - payload: the text ``encode(_:)`` returned on the manager, as the repository kept it.
    ///   - count: how many items the manager encoded (a capacity hint).
    func decode(_ payload: String, count: Int) throws -> [Item]
}

/// Items as a JSON array, for any `Codable` item: the default. Simple, but Foundation's JSON
/// costs microseconds an item each way; ``DelimitedChunkCodec`` is several times cheaper.
public struct JSONChunkCodec<Item: Codable>: RemoteChunkCodec {
    public init() {}

    public func encode(_ items: [Item]) throws -> String {
        String(decoding: try JSONEncoder().encode(items), as: UTF8.self)
    }

    public func decode(_ payload: String, count: Int) throws -> [Item] {
        try JSONDecoder().decode([Item].self, from: Data(payload.utf8))
    }
}

/// Items as lines of tab-separated fields (backslash, tab, newline and carriage return escaped
/// as in PostgreSQL's COPY text format), written and read by two closures.
public struct DelimitedChunkCodec<Item>: RemoteChunkCodec {
    private let fields: @Sendable (Item, inout DelimitedFields) -> Void
    private let item: @Sendable ([Substring]) throws -> Item

    /// - Parameters:
    ///   - fields: appends an item's fields, in order.
    ///   - item: builds an item from its fields, in the same order; throws when they do not fit.
    public init(
        fields: @escaping @Sendable (Item, inout DelimitedFields) -> Void,
        item: @escaping @Sendable ([Substring]) throws -> Item
    ) {
        self.fields = fields
        self.item = item
    }

    public func encode(_ items: [Item]) throws -> String {
        var line = DelimitedFields()
        line.text.reserveCapacity(items.count * 64)
        for item in items {
            line.startLine()
            fields(item, &line)
        }
        return line.text
    }

    public func decode(_ payload: String, count: Int) throws -> [Item] {
        var items: [Item] = []
        items.reserveCapacity(count)
        var fields: [Substring] = []
        // Split on bytes: a field's "\r" before the line's "\n" would otherwise be one Character.
        for line in payload.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            fields.removeAll(keepingCapacity: true)
            for field in line.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false) {
                let text = Substring(field)
                fields.append(field.contains(UInt8(ascii: "\\")) ? Substring(Self.unescape(text)) : text)
            }
            items.append(try item(fields))
        }
        return items
    }

    private static func unescape(_ field: Substring) -> String {
        var out = ""
        var escaped = false
        for scalar in field.unicodeScalars {
            if escaped {
                switch scalar {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "r": out.append("\r")
                default: out.unicodeScalars.append(scalar)
                }
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// One item's fields as ``DelimitedChunkCodec`` writes them.
public struct DelimitedFields {
    var text = ""
    private var first = true

    mutating func startLine() {
        if !text.isEmpty { text.append("\n") }
        first = true
    }

    public mutating func append(_ value: Int64) {
        separate()
        text.append(String(value))
    }

    public mutating func append(_ value: String) {
        separate()
        if value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\\": text.append("\\\\")
                case "\t": text.append("\\t")
                case "\n": text.append("\\n")
                case "\r": text.append("\\r")
                default: text.unicodeScalars.append(scalar)
                }
            }
        } else {
            text.append(value)
        }
    }

    private mutating func separate() {
        if !first { text.append("\t") }
        first = false
    }
}

/// A remote chunk's payload does not decode into the step's items.
public struct RemoteChunkDecodingError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
