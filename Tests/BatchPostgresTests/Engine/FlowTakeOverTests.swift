import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

@Suite("A flow job whose launcher died is taken over", .timeLimit(.minutes(2)))
struct FlowTakeOverTests {
    @Test func aLaunchAttachesRetracesTheFlowAndResumesTheAwaitedStep() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let script = FlowScript()
            let job = Job("attach-flow", parameters: [.required("k", .string)], flow: Flow {
                script.step("first")
                Decider("route") { decision in
                    decision.previousStep?.stepName == "first" ? "PARTITIONED" : "LOST"
                }
                .on("PARTITIONED").to("work")
                PartitionStep("work", partitioner: CountPartitioner(count: 2), workerStep: TaskletStep("work") { _, _ in .finished })
                script.step("after")
            })
            // The dead launcher's execution: first completed, work awaiting its two partitions.
            let parameters: JobParameters = ["k": .string("v")]
            let executionID = try await JobEngineTests.query(url) { db in
                let session = PostgresJobRepositorySession(connection: db)
                var execution = try session.createJobExecution(
                    jobName: "attach-flow", parameters: parameters, restartable: true, launcher: .current(lease: .seconds(30))
                ).get().execution
                execution.status = .started
                try session.update(&execution)
                var first = try session.createStepExecution(jobExecutionID: execution.id, stepName: "first", context: [:])
                first.status = .completed
                first.exitStatus = .completed
                try session.update(&first)
                var work = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
                work.status = .started
                try session.update(&work)
                _ = try session.preparePartitions(
                    manager: work, jobExecution: execution, workerStep: "attach-flow/work", maxAttempts: 3
                ) { [Partition(name: "p0", context: [:]), Partition(name: "p1", context: [:])] }
                try db.execute("""
                    UPDATE batch_job_launcher SET lease_expires_at = now() - interval '1 second'
                    WHERE job_execution_id = \(execution.id)
                    """)
                return execution.id
            }

            let worker = try PartitionWorker(
                jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, lease: .seconds(5)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let attached = try await launcher.run(job, parameters: parameters)
            worker.shutdown()
            try await running.value

            #expect(attached.id == executionID)
            #expect(attached.status == .completed, "\(attached.exitStatus)")
            // first is not run again: its recorded exit routes the decider to work.
            #expect(script.trail == ["after"])
            let steps = try await JobEngineTests.steps(url, executionID)
            #expect(steps.map(\.stepName).sorted() == ["after", "first", "work", "work:p0", "work:p1"])
            #expect(steps.allSatisfy { $0.status == .completed })
        }
    }
}
