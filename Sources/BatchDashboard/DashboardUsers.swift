import Foundation

/// Who may use the dashboard: users with a secret, each an operator (may act) or a viewer
/// (may only read). There is no default user and no default password.
///
/// Written one user a line, `name:secret[:role]` (role `operator`, the default, or `viewer`);
/// blank lines and lines starting with `#` are ignored. A secret is at least 12 characters.
/// Browsers send it as HTTP basic auth (user `name`, password `secret`); scripts may send
/// `Authorization: Bearer <secret>` instead.
public struct DashboardUsers: Sendable {
    public enum Role: String, Sendable {
        case `operator`, viewer
    }

    public struct User: Sendable, Equatable {
        public var name: String
        public var role: Role
        public var mayAct: Bool { role == .operator }
    }

    struct Entry: Sendable {
        var user: User
        var secret: [UInt8]
    }

    let entries: [Entry]

    /// No user at all: every page then needs `openRead`, and no action is possible.
    public static let none = DashboardUsers(entries: [])

    init(entries: [Entry]) {
        self.entries = entries
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Parses the users file's text; `source` names it in errors (a path, or an environment variable).
    public init(parsing text: String, source: String) throws {
        var entries: [Entry] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(source) line \(index + 1)"
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2, !fields[0].isEmpty else {
                throw DashboardConfigurationError("\(place): expected name:secret[:role], e.g. alice:a-long-secret:operator")
            }
            let name = fields[0]
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }), name.count <= 100 else {
                throw DashboardConfigurationError("\(place): the user name \"\(name)\" may only have letters, digits and . _ - @ (at most 100)")
            }
            let secret = fields[1]
            guard secret.count >= 12 else {
                throw DashboardConfigurationError("\(place): the secret of \(name) is shorter than 12 characters; choose a longer one")
            }
            var role = Role.operator
            if fields.count == 3 {
                guard let given = Role(rawValue: fields[2]) else {
                    throw DashboardConfigurationError("\(place): unknown role \"\(fields[2])\" for \(name): use operator or viewer")
                }
                role = given
            }
            guard !entries.contains(where: { $0.user.name == name }) else {
                throw DashboardConfigurationError("\(place): the user \(name) is listed twice")
            }
            entries.append(Entry(user: User(name: name, role: role), secret: Array(secret.utf8)))
        }
        self.entries = entries
    }

    /// Reads a users file. It must not be readable by others (mode 0600 or 0640), as for ~/.pgpass.
    public static func load(path: String) throws -> DashboardUsers {
        let attributes: [FileAttributeKey: Any]
        let data: Data
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DashboardConfigurationError("cannot read the users file \(path): \(error.localizedDescription)")
        }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o007 != 0 {
            throw DashboardConfigurationError(
                "the users file \(path) is readable or writable by others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)")
        }
        let users = try DashboardUsers(parsing: String(decoding: data, as: UTF8.self), source: path)
        if users.isEmpty {
            throw DashboardConfigurationError("the users file \(path) lists no user; add a line name:secret[:role]")
        }
        return users
    }

    /// The user an `Authorization` header names, or nil (no header, unknown user, wrong secret).
    func authenticate(authorization header: String?) -> User? {
        guard let header else { return nil }
        if header.count > 7, header.prefix(6).lowercased() == "basic " {
            guard let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)) else {
                return nil
            }
            let text = String(decoding: decoded, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { return nil }
            let name = String(text[..<colon])
            let secret = Array(text[text.index(after: colon)...].utf8)
            // Every entry is compared, in constant time, so timing tells nothing of who exists.
            var found: User?
            for entry in entries where Self.equalInConstantTime(entry.secret, secret) && entry.user.name == name {
                found = entry.user
            }
            return found
        }
        if header.count > 8, header.prefix(7).lowercased() == "bearer " {
            let secret = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
            var found: User?
            for entry in entries where Self.equalInConstantTime(entry.secret, secret) {
                found = entry.user
            }
            return found
        }
        return nil
    }

    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

/// A dashboard setting that cannot work: says what is wrong and what to do.
public struct DashboardConfigurationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
