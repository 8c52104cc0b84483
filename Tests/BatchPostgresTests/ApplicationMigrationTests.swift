import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

/// An application's own migrations, applied by `migrate` after the framework's, against a
/// real PostgreSQL.
@Suite("Application migrations", .timeLimit(.minutes(2)))
struct ApplicationMigrationTests {
    static let first = ApplicationMigration("create_invoice", sql: """
        CREATE TABLE invoice (id bigint PRIMARY KEY, month text NOT NULL);
        CREATE INDEX invoice_month ON invoice (month);
        """)
    static let second = ApplicationMigration("add_cents", sql: "ALTER TABLE invoice ADD COLUMN cents bigint NOT NULL DEFAULT 0")

    static func tables(_ db: PostgresConnection) throws -> [String] {
        try db.query("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'invoice%' ORDER BY 1")
            .map { try $0.decode(String.self, column: 0) }
    }

    static func recorded(_ db: PostgresConnection) throws -> [String] {
        try db.query("SELECT namespace || ' ' || version || ' ' || name FROM swiftbatch_application_migration ORDER BY namespace, version")
            .map { try $0.decode(String.self, column: 0) }
    }

    @Test func appliedInOrderAfterTheFrameworksThenNothingToDo() async throws {
        try await TestDatabase.withConnection { db, _ in
            let billing = ApplicationMigrations(namespace: "billing", [Self.first])
            let report = try SchemaMigrations.migrate(on: db, application: billing)
            #expect(report.applied == SchemaMigrations.all.map(\.version))
            let application = try #require(report.application)
            #expect(application.namespace == "billing" && application.applied == [1])
            #expect(application.version == 1 && application.latestVersion == 1)
            #expect(try Self.tables(db) == ["invoice"])

            // Again: nothing; then with a second migration: only it.
            let again = try SchemaMigrations.migrate(on: db, application: billing)
            #expect(again.applied.isEmpty && again.application?.applied == [])
            let grown = ApplicationMigrations(namespace: "billing", [Self.first, Self.second])
            #expect(try SchemaMigrations.migrate(on: db, application: grown).application?.applied == [2])
            #expect(try db.query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'invoice' AND column_name = 'cents'")
                .single().decode(Int64.self, column: 0) == 1)

            // Numbered within their namespace: the framework's versions and another
            // application's never meet them, and the framework's version is unchanged.
            let payroll = ApplicationMigrations(namespace: "payroll", [ApplicationMigration("create_payslip", sql: "CREATE TABLE invoice_payslip (id bigint)")])
            try SchemaMigrations.migrate(on: db, application: payroll)
            #expect(try Self.recorded(db) == ["billing 1 create_invoice", "billing 2 add_cents", "payroll 1 create_payslip"])
            #expect(try SchemaMigrations.installedVersion(on: db) == SchemaMigrations.latestVersion)
            let checksum = try db.query("SELECT checksum = md5(\(Self.second.sql)) FROM swiftbatch_application_migration WHERE namespace = 'billing' AND version = 2")
                .single().decode(Bool.self, column: 0)
            #expect(checksum)
            #expect(try SchemaMigrations.verifyApplication(grown, db) == 2)
        }
    }

    @Test func aChangedAppliedMigrationIsRefusedAndNothingRuns() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db, application: ApplicationMigrations(namespace: "billing", [Self.first]))
            let edited = ApplicationMigration("create_invoice", sql: Self.first.sql + "\nCREATE INDEX invoice_id_month ON invoice (id, month);")
            let changed = ApplicationMigrations(namespace: "billing", [edited, Self.second])
            let error = try #require(throws: SchemaError.self) { try SchemaMigrations.migrate(on: db, application: changed) }
            #expect(error.code == .migrationChanged)
            #expect(error.namespace == "billing")
            #expect(error.foundVersion == 1)
            #expect(error.message.contains("migration 1 of billing (create_invoice) was applied with other SQL"))
            #expect(error.message.contains("new migration"))
            // The second migration did not run either.
            #expect(try db.query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'invoice' AND column_name = 'cents'")
                .single().decode(Int64.self, column: 0) == 0)
            #expect(throws: SchemaError.self) { try SchemaMigrations.verifyApplication(changed, db) }

            // A binary that knows fewer migrations than the database holds is refused too.
            try SchemaMigrations.migrate(on: db, application: ApplicationMigrations(namespace: "billing", [Self.first, Self.second]))
            let older = try #require(throws: SchemaError.self) {
                try SchemaMigrations.migrate(on: db, application: ApplicationMigrations(namespace: "billing", [Self.first]))
            }
            #expect(older.code == .newerThanBinary)
            #expect(older.message.contains("the database has 2 migrations of billing, but this binary knows only 1"))
        }
    }

    @Test func aFailingMigrationKeepsNothingOfTheRun() async throws {
        try await TestDatabase.withConnection { db, _ in
            // A fresh database: the framework's migrations and the application's run in one
            // transaction, so the broken third one leaves no table at all, not even the framework's.
            let broken = ApplicationMigration("broken", sql: "CREATE TABLE invoice_extra (id bigint); SELECT no_such_column FROM invoice")
            let migrations = ApplicationMigrations(namespace: "billing", [Self.first, Self.second, broken])
            let error = try #require(throws: SchemaError.self) { try SchemaMigrations.migrate(on: db, application: migrations) }
            #expect(error.code == .migrationFailed)
            #expect(error.message.contains("migration 3 of billing (broken) failed"))
            #expect(error.message.contains("rolled back"))
            #expect(error.underlying?.sqlState?.rawValue == "42703")
            #expect(try Self.tables(db).isEmpty)
            #expect(try SchemaMigrations.installedVersion(on: db) == nil)

            // With the framework's schema in place, a failure keeps the applied ones and adds nothing.
            try SchemaMigrations.migrate(on: db, application: ApplicationMigrations(namespace: "billing", [Self.first]))
            #expect(throws: SchemaError.self) { try SchemaMigrations.migrate(on: db, application: migrations) }
            #expect(try Self.tables(db) == ["invoice"])
            #expect(try Self.recorded(db) == ["billing 1 create_invoice"])
            // Fixed, it applies.
            let fixed = ApplicationMigrations(namespace: "billing", [Self.first, Self.second, ApplicationMigration("extra", sql: "CREATE TABLE invoice_extra (id bigint)")])
            #expect(try SchemaMigrations.migrate(on: db, application: fixed).application?.applied == [2, 3])
            #expect(try Self.tables(db) == ["invoice", "invoice_extra"])
        }
    }

    @Test func otherCommandsCheckTheRegisteredApplicationsVersion() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            // No migration registered: only the framework's schema is checked.
            try SchemaMigrations.check(on: db)
            #expect(try SchemaMigrations.applicationVersion(namespace: "billing", on: db) == 0)
        }
    }
}
