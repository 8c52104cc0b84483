import PostgresClient

/// The database's schema is not the one this binary needs; the message says what to run.
public struct SchemaError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case missing, outdated, newerThanBinary, migrationFailed }
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

        public var description: String {
            switch base {
            case .missing: "schema missing"
            case .outdated: "schema outdated"
            case .newerThanBinary: "schema newer than binary"
            case .migrationFailed: "migration failed"
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

    public var description: String { message }
    public var debugDescription: String {
        underlying.map { "\(message)\n  \(String(reflecting: $0))" } ?? message
    }

    static func missing() -> SchemaError {
        SchemaError(
            code: .missing, foundVersion: 0, expectedVersion: SchemaMigrations.latestVersion,
            message: "the database has no SwiftBatch job repository: run `swiftbatch migrate` to create it")
    }

    static func outdated(found: Int, expected: Int) -> SchemaError {
        SchemaError(
            code: .outdated, foundVersion: found, expectedVersion: expected,
            message: "the job repository's schema is version \(found) but this binary needs version \(expected): run `swiftbatch migrate`")
    }

    static func newerThanBinary(found: Int, expected: Int) -> SchemaError {
        SchemaError(
            code: .newerThanBinary, foundVersion: found, expectedVersion: expected,
            message: "the job repository's schema is version \(found), newer than this binary knows (\(expected)): run the newer swiftbatch binary that migrated it")
    }

    static func migrationFailed(_ migration: SchemaMigration, _ error: PostgresError) -> SchemaError {
        SchemaError(
            code: .migrationFailed, foundVersion: migration.version - 1,
            expectedVersion: SchemaMigrations.latestVersion,
            message: "migration \(migration.version) (\(migration.name)) failed and was rolled back: \(error.message)",
            underlying: error)
    }
}
