import Foundation
import PostgresClient

/// Fresh PostgreSQL databases for integration tests.
///
/// The server comes from `DATABASE_URL` (set by `scripts/test.sh`), else libpq's `PG*`
/// variables. Each test gets a database of its own, dropped afterwards, so tests run in
/// parallel without seeing each other.
public enum TestDatabase {
    /// The server's connection string as the environment gives it (nil: libpq's `PG*`).
    public static var serverURL: String? {
        ProcessInfo.processInfo.environment["DATABASE_URL"]
    }

    /// Creates an empty database, passes its connection string to `body`, and drops it after.
    public static func withFreshDatabase<Result: Sendable>(
        _ body: (String) async throws -> Result
    ) async throws -> Result {
        let name = "swiftbatch_test_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        let admin: PostgresSession
        do {
            admin = try await PostgresSession.connect(to: serverURL, name: "test-admin")
        } catch var error as PostgresError {
            error.message += " (integration tests need a PostgreSQL: run scripts/test.sh, or set DATABASE_URL)"
            throw error
        }
        try await admin.run { try $0.execute("CREATE DATABASE \(identifier: name)") }
        var target = try ConnectionString(serverURL ?? "")
        target["dbname"] = name
        let url = target.conninfo
        do {
            let result = try await body(url)
            try await drop(name, admin)
            return result
        } catch {
            try? await drop(name, admin)
            throw error
        }
    }

    /// Runs `body` with a connection of its own to `url`, on a thread of its own (never on the
    /// cooperative pool), and closes it.
    public static func query<T: Sendable>(
        _ url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await onDedicatedThread {
            let db = try PostgresConnection(connectionString: url)
            defer { db.close() }
            return try body(db)
        }
    }

    /// Creates a fresh database and runs `body` with a blocking connection to it, on a thread
    /// of its own (never on the cooperative pool).
    public static func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, String) throws -> Result
    ) async throws -> Result {
        try await withFreshDatabase { url in
            let thread = DedicatedThread(name: "test-connection")
            defer { thread.shutdown() }
            return try await thread.run {
                let connection = try PostgresConnection(connectionString: url)
                defer { connection.close() }
                return try body(connection, url)
            }
        }
    }

    private static func drop(_ name: String, _ admin: PostgresSession) async throws {
        try await admin.run { try $0.execute("DROP DATABASE IF EXISTS \(identifier: name) WITH (FORCE)") }
        await admin.close()
    }
}

/// Runs blocking code on a thread of its own and awaits it.
public func onDedicatedThread<Result: Sendable>(
    _ body: @escaping @Sendable () throws -> Result
) async throws -> Result {
    let thread = DedicatedThread(name: "test-blocking")
    defer { thread.shutdown() }
    return try await thread.run(body)
}
