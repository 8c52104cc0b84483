import Batch
import BatchTestSupport
import Testing

/// The in-memory repository's own rules, as the PostgreSQL repository has them.
@Suite("In-memory job repository", .timeLimit(.minutes(1)))
struct InMemoryJobRepositoryTests {
    static let parameters: JobParameters = ["day": .string("2026-11-25")]

    static func launch(_ session: any JobRepositorySession, restartable: Bool = true) throws -> Result<LaunchGrant, LaunchRefusal> {
        try session.createJobExecution(jobName: "j", parameters: parameters, restartable: restartable, launcher: .current())
    }

    static func refusal(_ result: Result<LaunchGrant, LaunchRefusal>) -> LaunchRefusal? {
        if case .failure(let refusal) = result { refusal } else { nil }
    }

    @Test func launchesAreRefusedAsThePostgreSQLRepositoryRefusesThem() throws {
        let session = try InMemoryJobRepository().openSession()
        var first = try Self.launch(session).get().execution
        guard case .alreadyRunning(first.id, _)? = Self.refusal(try Self.launch(session)) else {
            Issue.record("a running instance with a live launcher was not refused")
            return
        }
        first.status = .failed
        first.context["resume"] = .int(7)
        try session.update(&first)
        #expect(Self.refusal(try Self.launch(session, restartable: false)) == .notRestartable(executionID: first.id))
        var second = try Self.launch(session).get().execution
        #expect(second.instance == first.instance)
        #expect(second.context.int("resume") == 7)
        second.status = .stopped
        try session.update(&second)
        #expect(try session.abandon(jobExecutionID: second.id) == .abandoned)
        #expect(Self.refusal(try Self.launch(session)) == .abandoned(executionID: second.id))
    }

    @Test func aStaleStepVersionIsRefusedAndAnOperatorsStopIsKept() throws {
        let repository = InMemoryJobRepository()
        let session = try repository.openSession()
        var job = try Self.launch(session).get().execution
        job.status = .started
        try session.update(&job)
        var step = try session.createStepExecution(jobExecutionID: job.id, stepName: "s", context: [:])
        var stale = step
        try session.update(&step)
        #expect(throws: InMemoryJobRepositoryError.self) { try session.update(&stale) }

        #expect(try repository.openSession().requestStop(jobExecutionID: job.id) == .stopping)
        try session.update(&job)  // the runner's "still STARTED"
        #expect(job.status == .stopping)
        let (_, jobStatus) = try session.inChunkTransaction(&step) { _, working in working.counts.commit += 1 }
        #expect(jobStatus == .stopping)
        #expect(step.counts.commit == 1)
    }

    @Test func aChunkThatThrowsKeepsNothing() throws {
        let repository = InMemoryJobRepository()
        let session = try repository.openSession()
        let job = try Self.launch(session).get().execution
        var step = try session.createStepExecution(jobExecutionID: job.id, stepName: "s", context: [:])
        let before = step
        let stepID = step.id
        #expect(throws: Boom.self) {
            try session.inChunkTransaction(&step) { transaction, working in
                working.counts.write += 5
                try transaction.recordSkip(SkippedItem(
                    jobExecutionID: job.id, stepExecutionID: stepID, stepName: "s", phase: .write, itemKey: "1", reason: "r"))
                throw Boom()
            }
        }
        #expect(step.version == before.version && step.counts == before.counts)
        #expect(try session.stepExecutions(jobExecutionID: job.id).first?.counts == StepCounts())
        #expect(repository.skippedItems(jobExecutionID: job.id).isEmpty)
    }

    @Test func aPartitionedStepFailsSayingTheRepositoryCannotCoordinatePartitions() async throws {
        let job = Job("partitioned") {
            PartitionStep("work", partitioner: OnePartition(), workerStep: TaskletStep("work") { _, _ in .finished })
        }
        let execution = try await JobLauncher(repository: InMemoryJobRepository()).run(job, parameters: [:])
        #expect(execution.status == .failed)
        #expect(execution.exitStatus.exitDescription.contains("the job repository cannot coordinate partitions"))
    }
}

private struct Boom: Error {}

private struct OnePartition: Partitioner {
    func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] { [Partition(name: "p0", context: [:])] }
}
