import CLibPQ

/// A libpq connection string (conninfo or `postgres://` URL), read with libpq's own parser.
public struct ConnectionString: Sendable, CustomStringConvertible {
    /// The settings it names, in libpq's keyword order; unset keywords are left out.
    public private(set) var settings: [(key: String, value: String)]

    /// Parses a conninfo string or URL.
    ///
    /// - Throws: ``PostgresError`` `.usage` with libpq's explanation (the text itself is not
    ///   repeated, since it may hold a password).
    public init(_ text: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(text, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "unreadable"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(
                kind: .usage,
                message: "the database URL is malformed: \(PostgresConnection.trimmed(reason))",
                hint: "write postgres://user@host:port/database or host=... dbname=...")
        }
        defer { PQconninfoFree(options) }
        var settings: [(String, String)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                settings.append((String(cString: keyword), String(cString: value)))
            }
            option += 1
        }
        self.settings = settings
    }

    /// The value of `key`, if set.
    public subscript(key: String) -> String? {
        get { settings.last { $0.key == key }?.value }
        set {
            settings.removeAll { $0.key == key }
            if let newValue { settings.append((key, newValue)) }
        }
    }

    /// The conninfo form (`key='value' ...`), which libpq accepts wherever a URL is accepted.
    public var conninfo: String {
        settings.map { "\($0.key)='\(Self.escape($0.value))'" }.joined(separator: " ")
    }

    /// The same string with every secret masked (`password`, `sslpassword`, and any other
    /// keyword naming a password): safe to print and log.
    public var description: String {
        settings.map { "\($0.key)='\(Self.isSecret($0.key) ? "********" : Self.escape($0.value))'" }
            .joined(separator: " ")
    }

    /// Whether libpq's keyword `key` holds a secret.
    public static func isSecret(_ key: String) -> Bool {
        key.lowercased().contains("password")
    }

    /// A printable form of any connection string: password masked, or a fixed text when it
    /// cannot even be parsed.
    public static func redacted(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "(libpq PG* environment)" }
        return (try? ConnectionString(text).description) ?? "(unparseable connection string)"
    }

    private static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            if character == "'" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
