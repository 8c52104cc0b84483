import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL restarts under a running cluster: a server of the test's own goes down and comes
/// back while workers and the launcher are mid-run. The job must complete with exact output.
@Suite("PostgreSQL restarts mid-run", .serialized, .timeLimit(.minutes(3)))
struct DatabaseRestartTests {
    @Test(arguments: [false, true])
    func theJobCompletesExactlyThroughARestart(immediate: Bool) async throws {
        let server = try await PrivateServer()
        do {
            let binary = try SwiftBatchBinary()
            let cluster = WorkerFaultTests.Cluster(binary: binary, url: server.url)
            #expect(try await binary.run(["migrate"], environment: cluster.env).exitCode == 0)
            #expect(try await binary.run(["launch", "ledger-seed", "rows=120000"], environment: cluster.env).exitCode == 0)
            let run = try await cluster.startRun(workers: 2, leaseSeconds: 5)
            try await server.restart(immediate: immediate)

            #expect(try await run.launcher.wait() == 0, "\(run.launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            // Everyone noticed and reconnected: the manager and at least the busy worker.
            #expect(run.launcher.output.contains("reconnected to the repository"), "\(run.launcher.output)")
            #expect(run.victim.output.contains("repository unreachable"), "\(run.victim.output)")
            let stuck = try await cluster.query { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM batch_job_execution WHERE status <> 'COMPLETED')
                         + (SELECT count(*) FROM batch_partition WHERE state <> 'COMPLETED')
                    """).single().decode(Int64.self, column: 0)
            }
            #expect(stuck == 0)
            try await cluster.stop(run.workers)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }
}
