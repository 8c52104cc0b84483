import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The metrics and health endpoint of real `swiftbatch worker` processes: what /metrics counts
/// against what the repository recorded, how the cluster metrics move when a worker is
/// SIGKILLed, and /ready when the database goes away.
@Suite("Worker metrics and health endpoints", .serialized, .timeLimit(.minutes(3)))
struct MetricsEndpointTests {
    typealias Cluster = WorkerFaultTests.Cluster

    /// A worker with its endpoint on a free port, read from its log.
    struct Worker {
        let process: RunningProcess
        let port: Int

        static func start(_ cluster: Cluster, leaseSeconds: Int = 30) async throws -> Worker {
            let process = try cluster.binary.start(
                ["worker", "--concurrency", "1", "--lease-seconds", "\(leaseSeconds)", "--metrics-port", "0"],
                environment: cluster.env)
            let port = try await waitFor("the worker's metrics endpoint", timeout: .seconds(60), poll: .milliseconds(50)) { () -> Int? in
                guard let range = process.output.range(of: #"batch\.http\.address=127\.0\.0\.1:(\d+)"#, options: .regularExpression)
                else { return nil }
                return Int(process.output[range].split(separator: ":").last ?? "")
            }
            return Worker(process: process, port: port)
        }

        func metrics() async throws -> String {
            let response = try await HTTPProbe.get(port: port, "/metrics")
            #expect(response.status == 200)
            return response.body
        }

        func ready() async throws -> HTTPProbe.Response { try await HTTPProbe.get(port: port, "/ready") }
    }

    /// Partitions the repository says each worker process (by pid) completed.
    static func completedByPID(_ cluster: Cluster) async throws -> [Int32: Int] {
        try await cluster.query { db in
            var byPID: [Int32: Int] = [:]
            for row in try db.query("SELECT owner, count(*) FROM batch_partition WHERE state = 'COMPLETED' GROUP BY owner") {
                let (owner, count) = try row.decode((String, Int64).self)
                if let pid = WorkerFaultTests.pid(of: owner) { byPID[pid, default: 0] += Int(count) }
            }
            return byPID
        }
    }

    @Test func twoWorkersCountWhatTheRepositoryCounts() async throws {
        try await WorkerFaultTests.withCluster(rows: 30_000) { cluster in
            let workers = [try await Worker.start(cluster), try await Worker.start(cluster)]
            for worker in workers {
                try await waitFor("worker ready") { try await worker.ready().status == 200 }
                #expect(try await HTTPProbe.get(port: worker.port, "/health").status == 200)
            }
            let launcher = try cluster.binary.start(Cluster.launch, environment: cluster.env)
            #expect(try await launcher.wait() == 0, "\(launcher.output)")

            let (read, written) = try await cluster.query { db in
                try db.query("""
                    SELECT sum(s.read_count)::bigint, sum(s.write_count)::bigint FROM batch_partition p
                    JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                    """).single().decode((Int64, Int64).self)
            }
            #expect(read == 30_000 && written == 30_000)
            let byPID = try await Self.completedByPID(cluster)
            var readSeen = 0.0, writtenSeen = 0.0
            for worker in workers {
                let text = try await worker.metrics()
                let tags = ["job_name": "ledger-etl", "step_name": "transform"]
                readSeen += HTTPProbe.sample(text, "spring_batch_item_read", tags.merging(["status": "SUCCESS"]) { $1 })
                writtenSeen += HTTPProbe.sample(text, "swiftbatch_item_write", tags)
                // Partitions per worker: the partition timer's count, against the repository.
                let completed = HTTPProbe.sample(text, "swiftbatch_partition_count", tags.merging(["status": "completed"]) { $1 })
                #expect(Int(completed) == byPID[worker.process.pid, default: 0], "\(text)")
                #expect(HTTPProbe.sample(text, "spring_batch_chunk_write_count", ["status": "SUCCESS"]) > 0)
                #expect(HTTPProbe.sample(text, "swiftbatch_partition_claim_count") > 0)
            }
            #expect(readSeen == Double(read))
            #expect(writtenSeen == Double(written))
            try await cluster.stop(workers.map(\.process))
        }
    }

    @Test func aSIGKILLedWorkerMovesTheClusterMetrics() async throws {
        try await WorkerFaultTests.withCluster(rows: 120_000) { cluster in
            var workers: [Worker] = []
            for _ in 0..<3 { workers.append(try await Worker.start(cluster, leaseSeconds: 2)) }
            for worker in workers { try await waitFor("worker ready") { try await worker.ready().status == 200 } }
            let launcher = try cluster.binary.start(Cluster.launch, environment: cluster.env)
            let busy = try await cluster.busyPartition()
            let victim = try #require(workers.first { $0.process.pid == WorkerFaultTests.pid(of: busy.owner) })
            let survivors = workers.filter { $0.process.pid != victim.process.pid }
            victim.process.send(SIGKILL)
            #expect(try await victim.process.wait() == 128 + SIGKILL)
            #expect(try await launcher.wait() == 0, "\(launcher.output)")

            // The killed worker's partition was taken over (attempt 2) by a survivor.
            var takeovers = 0.0
            for worker in survivors { takeovers += HTTPProbe.sample(try await worker.metrics(), "swiftbatch_partition_takeovers") }
            #expect(takeovers >= 1)
            // Each survivor's heartbeat comes to count two live workers.
            for worker in survivors {
                try await waitFor("live workers 2", timeout: .seconds(30), poll: .milliseconds(200)) {
                    HTTPProbe.sample(try await worker.metrics(), "swiftbatch_workers_live") == 2
                }
            }
            try await cluster.checkExactOutput(rows: 120_000)
            try await cluster.stop(survivors.map(\.process))
        }
    }

    @Test func readyTurnsUnavailableWhenTheDatabaseGoesAway() async throws {
        try await WorkerFaultTests.withCluster(rows: 100) { cluster in
            let worker = try await Worker.start(cluster, leaseSeconds: 3)
            try await waitFor("worker ready") { try await worker.ready().status == 200 }
            // The database refuses this worker: no new connection, its sessions ended.
            let database = try await cluster.query { db in
                try db.query("SELECT current_database()").single().decode(String.self, column: 0)
            }
            // Altered from the server's own database: the test's will refuse connections.
            let server = TestDatabase.serverURL ?? ""
            try await TestDatabase.query(server) { db in
                try db.execute("ALTER DATABASE \(identifier: database) ALLOW_CONNECTIONS false")
                try db.execute("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = \(database) AND pid <> pg_backend_pid()
                    """)
            }
            try await waitFor("worker not ready", timeout: .seconds(30), poll: .milliseconds(100)) {
                try await worker.ready().status == 503
            }
            #expect(try await HTTPProbe.get(port: worker.port, "/health").status == 200, "alive though not ready")
            #expect(try await worker.ready().body.contains("\"connected\":\"false\""))
            // The database comes back: the worker reconnects, registers, and is ready again.
            _ = try await TestDatabase.query(server) { db in
                try db.execute("ALTER DATABASE \(identifier: database) ALLOW_CONNECTIONS true")
            }
            try await waitFor("worker ready again", timeout: .seconds(30), poll: .milliseconds(100)) {
                try await worker.ready().status == 200
            }
            try await cluster.stop([worker.process])
        }
    }
}
