import BatchSupport

/// A small JSON map saved with each job and step execution.
///
/// Readers and writers keep their restart position here (`reader.last_id`, `writer.offset`),
/// and the repository saves it in the same transaction as each chunk, so a restart resumes
/// exactly where the last committed chunk ended. Keep it small: it is rewritten at every commit.
///
/// Values are `JSONValue`s, so 64-bit integers are stored exactly:
///
/// ```swift
/// var context = ExecutionContext()
/// context["reader.last_id"] = .int(42)
/// let lastID = context.int("reader.last_id")  // 42
/// ```
///
/// Two contexts are equal when their entries are; ``isDirty`` is bookkeeping and does not count.
public struct ExecutionContext: Sendable, Hashable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The entries.
    public private(set) var values: [String: JSONValue]

    /// Whether an entry was added, changed or removed since the context was created or
    /// ``markClean()`` was last called; the repository can skip saving a clean context.
    ///
    /// Setting a key to the value it already holds does not make the context dirty.
    public private(set) var isDirty = false

    /// The most characters the repository's `short_context` column holds, as in Spring Batch.
    public static let shortContextLimit = String.storageColumnLimit

    /// Creates a context holding `values`; it starts clean.
    public init(_ values: [String: JSONValue] = [:]) {
        self.values = values
    }

    /// Creates a context from a literal; a key given twice is a programming error and traps.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, _ in
            preconditionFailure("ExecutionContext literal has a duplicate key")
        }))
    }

    /// The value for a key; assigning `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get { values[key] }
        set {
            if let newValue {
                let old = values.updateValue(newValue, forKey: key)
                if old != newValue { isDirty = true }
            } else if values.removeValue(forKey: key) != nil {
                isDirty = true
            }
        }
    }

    /// The keys, sorted.
    public var keys: [String] { values.keys.sorted() }

    /// Whether the context has no entries.
    public var isEmpty: Bool { values.isEmpty }

    /// The number of entries.
    public var count: Int { values.count }

    /// Whether the context has an entry for `key`.
    public func contains(_ key: String) -> Bool {
        values[key] != nil
    }

    /// Forgets that the context changed; call after saving it.
    public mutating func markClean() {
        isDirty = false
    }

    // MARK: Typed access

    /// The integer stored under `key`; `nil` if missing or not an integer (a double is not
    /// truncated, so a position that lost precision elsewhere is not taken silently).
    public func int(_ key: String) -> Int64? {
        guard case .int(let value) = values[key] else { return nil }
        return value
    }

    /// The number stored under `key` as a double; `nil` if missing or not a number.
    ///
    /// Also reads an integer (whole numbers written by other tools without `.0`), and the strings
    /// `"NaN"`, `"Infinity"` and `"-Infinity"` that stand for doubles JSON cannot hold.
    public func double(_ key: String) -> Double? {
        switch values[key] {
        case .double(let value): value
        case .int(let value): Double(value)
        case .string("NaN"): .nan
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        default: nil
        }
    }

    /// The string stored under `key`; `nil` if missing or not a string.
    public func string(_ key: String) -> String? {
        guard case .string(let value) = values[key] else { return nil }
        return value
    }

    /// The boolean stored under `key`; `nil` if missing or not a boolean (`1` is not `true`).
    public func bool(_ key: String) -> Bool? {
        guard case .bool(let value) = values[key] else { return nil }
        return value
    }

    // MARK: Serialization

    /// The context as compact JSON with sorted keys; an empty context is `{}`.
    public var jsonText: String {
        var output = ""
        JSONValue.writeObject(values, to: &output)
        return output
    }

    /// Reads a context from JSON text; the result is clean.
    ///
    /// - Parameter jsonText: A JSON object.
    /// - Throws: `JSONParsingError`, with code `JSONParsingError.Code.notAnObject` if the text
    ///   is valid JSON but not an object.
    public init(jsonText: String) throws(JSONParsingError) {
        var parser = JSONParser(jsonText)
        let value = try parser.parseDocument()
        guard case .object(let members) = value else {
            throw parser.error(.notAnObject, "an execution context must be a JSON object ({...})", at: 0)
        }
        self.init(members)
    }

    /// The two columns the repository writes, following Spring Batch's rule.
    ///
    /// If the JSON fits in ``shortContextLimit`` characters it is `short` and `serialized` is
    /// `nil`. Otherwise `serialized` is the full JSON and `short` is a preview: its first
    /// 2492 characters followed by `" ..."`, which is *not* valid JSON. Characters are counted
    /// as Unicode scalars, as PostgreSQL counts `varchar` length.
    public func storageForm() -> (short: String, serialized: String?) {
        let text = jsonText
        let limit = Self.shortContextLimit
        guard text.unicodeScalars.count > limit else {
            return (text, nil)
        }
        // Spring Batch's margin of 8: room for the ellipsis, and then some.
        return (text.truncated(toUnicodeScalars: limit - 8) + " ...", text)
    }

    /// Reads a context back from the repository's two columns.
    ///
    /// - Parameters:
    ///   - short: The `short_context` column.
    ///   - serialized: The `serialized_context` column; when present it is the whole context and
    ///     `short` (then only a preview) is ignored.
    /// - Throws: `JSONParsingError` if the text that holds the context is not a JSON object.
    public init(short: String, serialized: String?) throws(JSONParsingError) {
        try self.init(jsonText: serialized ?? short)
    }

    /// The context as JSON, as ``jsonText``.
    public var description: String { jsonText }

    public static func == (lhs: ExecutionContext, rhs: ExecutionContext) -> Bool {
        lhs.values == rhs.values
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(values)
    }
}
