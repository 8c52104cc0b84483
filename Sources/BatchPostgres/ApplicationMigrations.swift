import Synchronization

/// One schema change of an application's own (its tables, indexes, views): a name and the SQL.
public struct ApplicationMigration: Sendable, Hashable {
    /// A short name, recorded with the migration (`create_invoice`).
    public let name: String
    /// The SQL, run as a script (several statements allowed) inside `migrate`'s transaction.
    public let sql: String

    public init(_ name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// An application's own migrations, applied by `migrate` after the framework's.
///
/// They are numbered by their position (the first is version 1) within a namespace of the
/// application's own, so their numbers never meet the framework's. `migrate` applies the ones
/// the database lacks, in order, in the same transaction and under the same lock as the
/// framework's, and records each in `swiftbatch_application_migration` with the MD5 of its SQL.
/// A migration already applied must never change: `migrate` refuses when one's SQL differs
/// from what was applied (add a new migration instead), and when the database holds more
/// migrations than the application knows (an older binary).
///
///     let migrations = ApplicationMigrations(namespace: "billing", [
///         ApplicationMigration("create_invoice", sql: "CREATE TABLE invoice (...)"),
///         ApplicationMigration("invoice_month_index", sql: "CREATE INDEX ..."),
///     ])
///     await SwiftBatchCLI.main(name: "billing", jobs: [...], migrations: migrations)
public struct ApplicationMigrations: Sendable {
    /// The namespace the migrations are recorded under: the application's name, typically.
    public let namespace: String
    /// The migrations in order; the one at index `i` is version `i + 1`.
    public let migrations: [ApplicationMigration]

    /// The namespace the framework's own schema uses; no application may take it.
    public static let frameworkNamespace = "swiftbatch"

    /// - Precondition: `namespace` is 1 to 100 characters and not `swiftbatch`; every
    ///   migration has a name and some SQL.
    public init(namespace: String, _ migrations: [ApplicationMigration]) {
        precondition(
            !namespace.isEmpty && namespace.count <= 100,
            "an application's migration namespace must be 1 to 100 characters, not \"\(namespace)\"")
        precondition(
            namespace != Self.frameworkNamespace,
            "the migration namespace \"swiftbatch\" is the framework's; name the application's own namespace")
        for (index, migration) in migrations.enumerated() {
            precondition(!migration.name.isEmpty, "application migration \(index + 1) of \(namespace) has no name")
            precondition(
                !migration.sql.allSatisfy(\.isWhitespace),
                "application migration \(index + 1) (\(migration.name)) of \(namespace) has no SQL")
        }
        self.namespace = namespace
        self.migrations = migrations
    }

    /// The version of the last migration (0 when there is none).
    public var latestVersion: Int { migrations.count }

    /// The application migrations the running program registered (`SwiftBatchCLI.main` does),
    /// which ``SchemaMigrations/check(on:)`` also checks; nil when there are none.
    public static var registered: ApplicationMigrations? { storage.withLock { $0 } }

    /// Registers the program's application migrations, once at startup.
    public static func register(_ migrations: ApplicationMigrations?) {
        storage.withLock { $0 = migrations }
    }

    private static let storage = Mutex<ApplicationMigrations?>(nil)
}
