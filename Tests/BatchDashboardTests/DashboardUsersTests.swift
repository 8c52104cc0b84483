import BatchDashboard
import Foundation
import Testing

/// The users file: every mistake named with its line, and nothing accepted by default.
struct DashboardUsersTests {
    @Test("a users file with operators, viewers and comments")
    func parses() throws {
        let users = try DashboardUsers(parsing: "# team\nalice:alice-secret-123\n\nvic:viewer-secret-123:viewer\n", source: "f")
        #expect(!users.isEmpty)
    }

    @Test("bad lines are refused, naming the line and what to do", arguments: [
        ("alice", "f line 1: expected name:secret[:role]"),
        ("alice:short", "shorter than 12 characters"),
        ("alice:alice-secret-123:admin", "unknown role \"admin\""),
        ("al ice:alice-secret-123", "may only have letters"),
        ("alice:alice-secret-123\nalice:other-secret-123", "f line 2: the user alice is listed twice"),
    ])
    func refuses(text: String, expected: String) {
        #expect {
            try DashboardUsers(parsing: text, source: "f")
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test("a users file readable by others is refused; so is a missing one")
    func fileMode() throws {
        let path = NSTemporaryDirectory() + "dashboard-users-\(UInt32.random(in: 0...UInt32.max))"
        try "alice:alice-secret-123\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect { try DashboardUsers.load(path: path) } throws: { "\($0)".contains("chmod 600") }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try !DashboardUsers.load(path: path).isEmpty)
        #expect { try DashboardUsers.load(path: path + ".missing") } throws: { "\($0)".contains("cannot read the users file") }
    }

    @Test("no user and no open reading: the dashboard refuses to start")
    func noDefaultUser() {
        let configuration = DashboardConfiguration(databaseURL: nil, users: .none)
        #expect { try configuration.validate() } throws: { "\($0)".contains("no dashboard user") }
    }
}
