import PostgresClient

/// One versioned change to the repository's schema (a file of `sql/migrations`).
public struct SchemaMigration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String
}

/// What ``SchemaMigrations/migrate(on:application:)`` did.
public struct MigrationReport: Sendable, Equatable {
    /// The versions applied by this call, oldest first; empty when the schema was current.
    public var applied: [Int]
    /// The schema version after the call.
    public var version: Int
    /// What was done for the application's own migrations, when it has some.
    public var application: ApplicationMigrationReport? = nil
}

/// The state of an application's own migrations in a database.
public struct ApplicationMigrationReport: Sendable, Equatable {
    /// The application's namespace.
    public var namespace: String
    /// The versions applied by this call (none for a status), oldest first.
    public var applied: [Int]
    /// The last version applied in the database after the call.
    public var version: Int
    /// The last version the application has.
    public var latestVersion: Int
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
    /// Then applies the application's own migrations the database lacks (see
    /// ``ApplicationMigrations``), in the same transaction: first checking that those already
    /// applied are unchanged, so a failure of either kind leaves the database as it was.
    @discardableResult
    public static func migrate(
        on connection: PostgresConnection, application: ApplicationMigrations? = nil
    ) throws -> MigrationReport {
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
            var report = MigrationReport(applied: applied, version: max(current, latestVersion))
            if let application {
                report.application = try migrateApplication(application, db)
            }
            return report
        }
    }

    /// Applies `application`'s pending migrations after checking the applied ones; inside
    /// ``migrate(on:application:)``'s transaction and lock.
    private static func migrateApplication(
        _ application: ApplicationMigrations, _ db: PostgresConnection
    ) throws -> ApplicationMigrationReport {
        try db.execute("""
            CREATE TABLE IF NOT EXISTS swiftbatch_application_migration (
                namespace text NOT NULL,
                version integer NOT NULL,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (namespace, version))
            """)
        let current = try verifyApplication(application, db)
        var applied: [Int] = []
        for (index, migration) in application.migrations.enumerated() where index + 1 > current {
            let version = index + 1
            do {
                try db.unsafeExecuteScript(migration.sql)
            } catch let error as PostgresError {
                throw SchemaError.applicationMigrationFailed(application, version: version, error)
            }
            try db.execute("""
                INSERT INTO swiftbatch_application_migration (namespace, version, name, checksum)
                VALUES (\(application.namespace), \(version), \(migration.name), md5(\(migration.sql)))
                """)
            applied.append(version)
        }
        return ApplicationMigrationReport(
            namespace: application.namespace, applied: applied, version: max(current, application.latestVersion),
            latestVersion: application.latestVersion)
    }

    /// Checks that every migration of `application` the database holds is one this binary has,
    /// with the same SQL, and returns the last version applied (0 for none).
    ///
    /// - Throws: ``SchemaError`` `.newerThanBinary` when the database holds more migrations
    ///   than the application has, `.migrationChanged` when an applied one's SQL changed.
    @discardableResult
    public static func verifyApplication(_ application: ApplicationMigrations, _ connection: PostgresConnection) throws -> Int {
        guard try applicationTableExists(connection) else { return 0 }
        let rows = try connection.query("""
            SELECT version, name, checksum FROM swiftbatch_application_migration
            WHERE namespace = \(application.namespace) ORDER BY version
            """).map { try $0.decode((Int, String, String).self) }
        guard let last = rows.last?.0 else { return 0 }
        if last > application.latestVersion {
            throw SchemaError.applicationNewerThanBinary(application, found: last)
        }
        for (version, name, checksum) in rows {
            let sql = application.migrations[version - 1].sql
            let expected = try connection.query("SELECT md5(\(sql))").single().decode(String.self, column: 0)
            if checksum != expected {
                throw SchemaError.applicationMigrationChanged(application, version: version, appliedName: name)
            }
        }
        return last
    }

    /// The last version of the application's migrations applied in the database (0 for none).
    public static func applicationVersion(namespace: String, on connection: PostgresConnection) throws -> Int {
        guard try applicationTableExists(connection) else { return 0 }
        return try connection.query("""
            SELECT coalesce(max(version), 0) FROM swiftbatch_application_migration WHERE namespace = \(namespace)
            """).single().decode(Int.self, column: 0)
    }

    private static func applicationTableExists(_ connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT to_regclass('swiftbatch_application_migration') IS NOT NULL")
            .single().decode(Bool.self, column: 0)
    }

    /// Throws a ``SchemaError`` telling the user what to do unless the database's schema is
    /// exactly the one this binary expects. Every command but `migrate` calls this first, so a
    /// missing schema never surfaces as a raw "relation does not exist".
    ///
    /// When the program registered application migrations (``ApplicationMigrations/registered``),
    /// their version is checked too (not their checksums: `migrate` does that).
    public static func check(on connection: PostgresConnection) throws {
        let version = try installedVersion(on: connection)
        guard let version else { throw SchemaError.missing() }
        if version < latestVersion {
            throw SchemaError.outdated(found: version, expected: latestVersion)
        }
        if version > latestVersion {
            throw SchemaError.newerThanBinary(found: version, expected: latestVersion)
        }
        if let application = ApplicationMigrations.registered, application.latestVersion > 0 {
            let applied = try applicationVersion(namespace: application.namespace, on: connection)
            if applied < application.latestVersion {
                throw SchemaError.applicationOutdated(application, found: applied)
            }
            if applied > application.latestVersion {
                throw SchemaError.applicationNewerThanBinary(application, found: applied)
            }
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
