import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Schema migrations", .timeLimit(.minutes(2)))
struct SchemaMigrationTests {
    /// Spring Batch 5's tables, with exactly its columns (name, type, nullability), in order.
    static let springBatchColumns: [String: [String]] = [
        "batch_job_instance": [
            "job_instance_id bigint NO", "version bigint YES", "job_name character varying(100) NO",
            "job_key character varying(32) NO",
        ],
        "batch_job_execution": [
            "job_execution_id bigint NO", "version bigint YES", "job_instance_id bigint NO",
            "create_time timestamp without time zone NO", "start_time timestamp without time zone YES",
            "end_time timestamp without time zone YES", "status character varying(10) YES",
            "exit_code character varying(2500) YES", "exit_message character varying(2500) YES",
            "last_updated timestamp without time zone YES",
        ],
        "batch_job_execution_params": [
            "job_execution_id bigint NO", "parameter_name character varying(100) NO",
            "parameter_type character varying(100) NO", "parameter_value character varying(2500) YES",
            "identifying character(1) NO",
        ],
        "batch_step_execution": [
            "step_execution_id bigint NO", "version bigint NO", "step_name character varying(100) NO",
            "job_execution_id bigint NO", "create_time timestamp without time zone NO",
            "start_time timestamp without time zone YES", "end_time timestamp without time zone YES",
            "status character varying(10) YES", "commit_count bigint YES", "read_count bigint YES",
            "filter_count bigint YES", "write_count bigint YES", "read_skip_count bigint YES",
            "write_skip_count bigint YES", "process_skip_count bigint YES", "rollback_count bigint YES",
            "exit_code character varying(2500) YES", "exit_message character varying(2500) YES",
            "last_updated timestamp without time zone YES",
        ],
        "batch_step_execution_context": [
            "step_execution_id bigint NO", "short_context character varying(2500) NO",
            "serialized_context text YES",
        ],
        "batch_job_execution_context": [
            "job_execution_id bigint NO", "short_context character varying(2500) NO",
            "serialized_context text YES",
        ],
    ]

    static func columns(of table: String, _ db: PostgresConnection) throws -> [String] {
        try db.query("""
            SELECT column_name || ' ' || format_type(atttypid, atttypmod) || ' ' || is_nullable
            FROM information_schema.columns c
            JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_name))::regclass AND a.attname = c.column_name
            WHERE c.table_schema = current_schema() AND c.table_name = \(table)
            ORDER BY c.ordinal_position
            """).map { try $0.decode(String.self, column: 0) }
    }

    @Test func freshDatabaseGetsSpringBatch5TablesExactly() async throws {
        try await TestDatabase.withConnection { db, _ in
            let report = try SchemaMigrations.migrate(on: db)
            #expect(report.applied == SchemaMigrations.all.map(\.version))
            #expect(report.version == SchemaMigrations.latestVersion)
            for (table, expected) in Self.springBatchColumns {
                #expect(try Self.columns(of: table, db) == expected, "columns of \(table)")
            }
            let sequences = try db.query(
                "SELECT sequence_name FROM information_schema.sequences ORDER BY 1"
            ).map { try $0.decode(String.self, column: 0) }
            #expect(Set(sequences).isSuperset(of: ["batch_job_execution_seq", "batch_job_seq", "batch_step_execution_seq"]))
            try SchemaMigrations.check(on: db)
        }
    }

    @Test func constraintsHold() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            try db.execute("INSERT INTO batch_job_instance VALUES (1, 0, 'job', 'k')")
            let duplicateInstance = #expect(throws: PostgresError.self) {
                try db.execute("INSERT INTO batch_job_instance VALUES (2, 0, 'job', 'k')")
            }
            #expect(duplicateInstance?.constraint == "job_inst_un")

            try db.execute("INSERT INTO batch_job_execution (job_execution_id, version, job_instance_id, create_time, status) VALUES (1, 0, 1, now(), 'FAILED')")
            try db.execute("INSERT INTO batch_job_execution (job_execution_id, version, job_instance_id, create_time, status) VALUES (2, 0, 1, now(), 'STARTED')")
            // A second running execution of the same instance is refused by the database itself.
            let secondRunning = #expect(throws: PostgresError.self) {
                try db.execute("INSERT INTO batch_job_execution (job_execution_id, version, job_instance_id, create_time, status) VALUES (3, 0, 1, now(), 'STARTING')")
            }
            #expect(secondRunning?.sqlState == .uniqueViolation)
            #expect(secondRunning?.constraint == "batch_job_execution_one_running")

            try db.execute("INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time) VALUES (1, 0, 'load', 2, now())")
            let sameStepTwice = #expect(throws: PostgresError.self) {
                try db.execute("INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time) VALUES (2, 0, 'load', 2, now())")
            }
            #expect(sameStepTwice?.constraint == "batch_step_execution_job_step_un")

            let orphan = #expect(throws: PostgresError.self) {
                try db.execute("INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time) VALUES (3, 0, 'x', 99, now())")
            }
            #expect(orphan?.sqlState == .foreignKeyViolation)

            // Every foreign key has an index whose leading column is the key.
            let unindexed = try db.query("""
                SELECT c.conrelid::regclass::text || '.' || a.attname
                FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                WHERE c.contype = 'f' AND NOT EXISTS (
                    SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
                """).map { try $0.decode(String.self, column: 0) }
            #expect(unindexed == [])
        }
    }

    @Test func migratingAgainChangesNothing() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            let before = try Self.schemaFingerprint(db)
            let again = try SchemaMigrations.migrate(on: db)
            #expect(again.applied == [])
            #expect(again.version == SchemaMigrations.latestVersion)
            #expect(try Self.schemaFingerprint(db) == before)
        }
    }

    @Test func concurrentMigrationsApplyOnce() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await onDedicatedThread {
                            let db = try PostgresConnection(connectionString: url)
                            defer { db.close() }
                            return try SchemaMigrations.migrate(on: db)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // Exactly one of the eight applied the migrations; the others found them done.
            #expect(reports.filter { !$0.applied.isEmpty }.count == 1)
            #expect(reports.allSatisfy { $0.version == SchemaMigrations.latestVersion })
            let rows = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("SELECT count(*) FROM swiftbatch_schema_version").single().decode(Int.self, column: 0)
            }
            #expect(rows == SchemaMigrations.all.count)
        }
    }

    @Test func checkExplainsMissingOldAndNewerSchemas() async throws {
        try await TestDatabase.withConnection { db, _ in
            let missing = #expect(throws: SchemaError.self) { try SchemaMigrations.check(on: db) }
            #expect(missing?.code == .missing)
            #expect(missing?.description.contains("swiftbatch migrate") == true)

            try SchemaMigrations.migrate(on: db)
            try db.execute("DELETE FROM swiftbatch_schema_version WHERE version = \(SchemaMigrations.latestVersion)")
            let outdated = #expect(throws: SchemaError.self) { try SchemaMigrations.check(on: db) }
            #expect(outdated?.code == .outdated)
            #expect(outdated?.description.contains("run `swiftbatch migrate`") == true)
            // Migrations are idempotent, so re-applying the last one over its own objects works.
            #expect(try SchemaMigrations.migrate(on: db).applied == [SchemaMigrations.latestVersion])

            try db.execute("INSERT INTO swiftbatch_schema_version (version, name, checksum) VALUES (999, 'future', '')")
            let newer = #expect(throws: SchemaError.self) { try SchemaMigrations.check(on: db) }
            #expect(newer?.code == .newerThanBinary)
            let refused = #expect(throws: SchemaError.self) { try SchemaMigrations.migrate(on: db) }
            #expect(refused?.code == .newerThanBinary)
        }
    }

    @Test func embeddedMigrationsMatchTheSQLFiles() throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("sql/migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == SchemaMigrations.all.count, "run scripts/embed-sql.sh")
        for (file, migration) in zip(files, SchemaMigrations.all) {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(file == String(format: "%04d_%@.sql", migration.version, migration.name))
            #expect(text == migration.sql + "\n", "\(file) differs from the embedded copy: run scripts/embed-sql.sh")
        }
        #expect(SchemaMigrations.all.map(\.version) == Array(1...SchemaMigrations.all.count))
    }

    static func schemaFingerprint(_ db: PostgresConnection) throws -> [String] {
        try db.query("""
            SELECT c.relname || ':' || c.relkind::text || ':' || coalesce(pg_get_indexdef(c.oid), '')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() ORDER BY 1
            """).map { try $0.decode(String.self, column: 0) }
    }
}
