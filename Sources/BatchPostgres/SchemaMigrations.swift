import PostgresClient

/// One versioned change to the repository's schema (a file of `sql/migrations`).
public struct SchemaMigration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// What ``SchemaMigrations/migrate(on:)`` did.
public struct MigrationReport: Sendable, Equatable {
    /// The versions applied by this call, oldest first; empty when the schema was current.
    public var applied: [Int]
    /// The schema version after the call.
    public var version: Int
}

/// Creates and upgrades the job repository's schema, and checks that a database has the
/// schema this binary expects.
public enum SchemaMigrations {
    /// The schema version this binary was built for.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Key of the advisory lock that serializes concurrent `migrate` runs (the text
    /// "swiftbatch-migrate" read as a 64-bit integer; any fixed value would do).
    static let lockKey: Int64 = 0x7377_6261_7463_686D

    /// Applies every migration the database lacks, in one transaction.
    ///
    /// Safe to run again (nothing happens) and safe to run from several processes at once: the
    /// first takes a transaction-scoped advisory lock and the others wait for it, then find the
    /// schema current. A failure rolls everything back, so the schema is never half-migrated.
    @discardableResult
    public static func migrate(on connection: PostgresConnection) throws -> MigrationReport {
        try connection.withTransaction { db in
            try db.query("SELECT pg_advisory_xact_lock(\(lockKey))")
            try db.execute("""
                CREATE TABLE IF NOT EXISTS swiftbatch_schema_version (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let current = try appliedVersion(db)
            if current > latestVersion {
                throw SchemaError.newerThanBinary(found: current, expected: latestVersion)
            }
            var applied: [Int] = []
            for migration in all where migration.version > current {
                do {
                    try db.unsafeExecuteScript(migration.sql)
                } catch let error as PostgresError {
                    throw SchemaError.migrationFailed(migration, error)
                }
                try db.execute("""
                    INSERT INTO swiftbatch_schema_version (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), md5(\(migration.sql)))
                    """)
                applied.append(migration.version)
            }
            return MigrationReport(applied: applied, version: max(current, latestVersion))
        }
    }

    /// Throws a ``SchemaError`` telling the user what to do unless the database's schema is
    /// exactly the one this binary expects. Every command but `migrate` calls this first, so a
    /// missing schema never surfaces as a raw "relation does not exist".
    public static func check(on connection: PostgresConnection) throws {
        let version = try installedVersion(on: connection)
        guard let version else { throw SchemaError.missing() }
        if version < latestVersion {
            throw SchemaError.outdated(found: version, expected: latestVersion)
        }
        if version > latestVersion {
            throw SchemaError.newerThanBinary(found: version, expected: latestVersion)
        }
    }

    /// The schema version installed in the database, or nil when there is no SwiftBatch schema.
    public static func installedVersion(on connection: PostgresConnection) throws -> Int? {
        let exists = try connection.query(
            "SELECT to_regclass('swiftbatch_schema_version') IS NOT NULL"
        ).single().decode(Bool.self, column: 0)
        guard exists else { return nil }
        return try appliedVersion(connection)
    }

    private static func appliedVersion(_ connection: PostgresConnection) throws -> Int {
        try connection.query("SELECT coalesce(max(version), 0) FROM swiftbatch_schema_version")
            .single().decode(Int.self, column: 0)
    }
}
