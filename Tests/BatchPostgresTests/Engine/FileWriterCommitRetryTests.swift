import Batch
import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Testing

/// Writes each chunk's numbers to a CSV file and marks the chunk in `commit_gate`, whose
/// deferred trigger fails the COMMIT of chunk 2 once with a serialization failure.
final class GatedCSVWriter: ItemWriter {
    let file: CSVItemWriter<Int>

    init(path: String) {
        file = CSVItemWriter<Int>(path: path, header: ["n"]) { [String($0)] }
    }

    func open(_ context: ExecutionContext) throws { try file.open(context) }
    func update(_ context: inout ExecutionContext) throws { try file.update(&context) }
    func close() throws { try file.close() }

    func write(_ items: [Int], in chunk: ChunkContext) throws {
        try file.write(items, in: chunk)
        let number = (items[0] - 1) / 3 + 1
        try chunk.postgresConnection().execute("INSERT INTO commit_gate VALUES (\(number))")
    }
}

@Suite("File writers when PostgreSQL refuses a COMMIT", .timeLimit(.minutes(2)))
struct FileWriterCommitRetryTests {
    @Test func aChunkWhoseCommitFailsWithASerializationFailureIsInTheFileOnce() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            try await JobEngineTests.query(url) { db in
                try db.unsafeExecuteScript("""
                    CREATE TABLE commit_gate (chunk int);
                    CREATE SEQUENCE commit_gate_failures;
                    CREATE FUNCTION commit_gate_check() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF NEW.chunk = 2 AND nextval('commit_gate_failures') = 1 THEN
                            RAISE EXCEPTION 'injected serialization failure at COMMIT' USING ERRCODE = '40001';
                        END IF;
                        RETURN NULL;
                    END $$;
                    CREATE CONSTRAINT TRIGGER commit_gate_check AFTER INSERT ON commit_gate
                        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_gate_check();
                    """)
            }
            let path = NSTemporaryDirectory() + "swiftbatch-gate-\(UUID().uuidString).csv"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let job = Job("gated-export", parameters: [.required("run", .string)]) {
                ChunkStep("export", commitInterval: 3) { _ in (ArrayReader(Array(1...10)), GatedCSVWriter(path: path)) }
            }
            let execution = try await launcher.run(job, parameters: ["run": .string("a")])
            #expect(execution.status == .completed)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "n\n" + (1...10).map { "\($0)\n" }.joined())
            let step = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(step.counts.rollback == 1)
            #expect(step.counts.commit == 4)
            let gate = try await JobEngineTests.query(url) {
                try $0.query("SELECT array_agg(chunk ORDER BY chunk)::text FROM commit_gate").single().decode(String.self, column: 0)
            }
            #expect(gate == "{1,2,3,4}")
        }
    }
}
