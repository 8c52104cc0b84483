import Batch
import PostgresClient

/// The database's schema is not the one this binary needs; the message says what to run.
public struct SchemaError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case missing, outdated, newerThanBinary, migrationFailed, migrationChanged
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No SwiftBatch schema at all.
        public static let missing = Code(.missing)
        /// An older schema version than this binary needs.
        public static let outdated = Code(.outdated)
        /// A newer schema than this binary knows: the binary is the old one.
        public static let newerThanBinary = Code(.newerThanBinary)
        /// A migration's SQL failed; nothing of the run was kept.
        public static let migrationFailed = Code(.migrationFailed)
        /// An application migration that was applied has different SQL now.
        public static let migrationChanged = Code(.migrationChanged)

        public var description: String {
            switch base {
            case .missing: "schema missing"
            case .outdated: "schema outdated"
            case .newerThanBinary: "schema newer than binary"
            case .migrationFailed: "migration failed"
            case .migrationChanged: "migration changed"
            }
        }
    }

    public var code: Code
    /// The version found in the database (0 when none).
    public var foundVersion: Int
    /// The version this binary needs.
    public var expectedVersion: Int
    public var message: String
    /// The database error behind a failed migration.
    public var underlying: PostgresError?
    /// The application's migration namespace, when the error is about its migrations (the
    /// versions are then the application's); nil for the framework's schema.
    public var namespace: String? = nil

    public var description: String { message }
    public var debugDescription: String {
        underlying.map { "\(message)\n  \(String(reflecting: $0))" } ?? message
    }

    static func missing() -> SchemaError {
        SchemaError(
            code: .missing, foundVersion: 0, expectedVersion: SchemaMigrations.latestVersion,
            message: "the database has no SwiftBatch job repository: run `\(ApplicationName.current) migrate` to create it")
    }

    static func outdated(found: Int, expected: Int) -> SchemaError {
        SchemaError(
            code: .outdated, foundVersion: found, expectedVersion: expected,
            message: "the job repository's schema is version \(found) but this binary needs version \(expected): run `\(ApplicationName.current) migrate`")
    }

    static func newerThanBinary(found: Int, expected: Int) -> SchemaError {
        SchemaError(
            code: .newerThanBinary, foundVersion: found, expectedVersion: expected,
            message: "the job repository's schema is version \(found), newer than this binary knows (\(expected)): a newer SwiftBatch binary migrated it; rebuild \(ApplicationName.current) with that SwiftBatch version")
    }

    static func migrationFailed(_ migration: SchemaMigration, _ error: PostgresError) -> SchemaError {
        SchemaError(
            code: .migrationFailed, foundVersion: migration.version - 1,
            expectedVersion: SchemaMigrations.latestVersion,
            message: "migration \(migration.version) (\(migration.name)) failed and was rolled back: \(error.message)",
            underlying: error)
    }

    static func applicationOutdated(_ application: ApplicationMigrations, found: Int) -> SchemaError {
        SchemaError(
            code: .outdated, foundVersion: found, expectedVersion: application.latestVersion,
            message: "the database has \(found) of the \(application.latestVersion) migrations of \(application.namespace): "
                + "run `\(ApplicationName.current) migrate`",
            namespace: application.namespace)
    }

    static func applicationNewerThanBinary(_ application: ApplicationMigrations, found: Int) -> SchemaError {
        SchemaError(
            code: .newerThanBinary, foundVersion: found, expectedVersion: application.latestVersion,
            message: "the database has \(found) migrations of \(application.namespace), but this binary knows only "
                + "\(application.latestVersion): a newer build of \(ApplicationName.current) migrated it; run that one",
            namespace: application.namespace)
    }

    static func applicationMigrationChanged(
        _ application: ApplicationMigrations, version: Int, appliedName: String
    ) -> SchemaError {
        let migration = application.migrations[version - 1]
        let renamed = appliedName == migration.name ? "" : " (applied as \(appliedName))"
        return SchemaError(
            code: .migrationChanged, foundVersion: version, expectedVersion: application.latestVersion,
            message: "migration \(version) of \(application.namespace) (\(migration.name))\(renamed) was applied with other "
                + "SQL than this binary has: a migration once applied must never change; restore its SQL and "
                + "put the change in a new migration after the last",
            namespace: application.namespace)
    }

    static func applicationMigrationFailed(
        _ application: ApplicationMigrations, version: Int, _ error: PostgresError
    ) -> SchemaError {
        SchemaError(
            code: .migrationFailed, foundVersion: version - 1, expectedVersion: application.latestVersion,
            message: "migration \(version) of \(application.namespace) (\(application.migrations[version - 1].name)) failed, "
                + "and the whole migrate run was rolled back (nothing of it was kept): \(error.message)",
            underlying: error, namespace: application.namespace)
    }
}
