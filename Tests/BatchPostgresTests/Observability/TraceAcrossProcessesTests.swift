import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing
import Tracing

/// One trace from the launcher's job down to each worker's chunks, carried through the
/// repository: the launcher stamps each partition's context with its step's trace, the worker
/// reads it back with the claim. (Launcher and worker share this process, as the tracer must
/// be installed once per process; the context crosses only through PostgreSQL.)
@Suite("Traces across launcher and worker", .serialized, .timeLimit(.minutes(2)))
struct TraceAcrossProcessesTests {
    static let tracer: TinyTracer = {
        let tracer = TinyTracer()
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    @Test func aWorkersSpansJoinTheLaunchersTrace() async throws {
        let tracer = Self.tracer
        try await TestDatabase.withFreshDatabase { url in
            _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
            let work = TaskletStep("work") { contribution, _ in
                contribution.counts.read += 1
                return .finished
            }
            let job = Job("trace-test") {
                PartitionStep("spread", gridSize: 3, partitioner: CountPartitioner(count: 3), workerStep: work)
            }
            let worker = try PartitionWorker(
                jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, lease: .seconds(5)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let execution = try await JobLauncher(repository: PostgresJobRepository(connectionString: url))
                .run(job, parameters: ["k": .string("v")])
            worker.shutdown()
            try await running.value
            #expect(execution.status == .completed)

            // Plain loops: with Swift 6.3.1, `filter` closures over these records here returned
            // the wrong elements in a debug build, and an explicitly typed one crashed the compiler.
            var jobs: [TinyTracer.Recorded] = [], steps: [TinyTracer.Recorded] = []
            var partitions: [TinyTracer.Recorded] = [], chunks: [TinyTracer.Recorded] = []
            for span in tracer.spans {
                if span.name == "job trace-test" { jobs.append(span) }
                if span.name == "step spread" { steps.append(span) }
                if span.name.hasPrefix("partition spread:") { partitions.append(span) }
                if span.name == "chunk" { chunks.append(span) }
            }
            let jobSpan = try #require(jobs.first)
            let step = try #require(steps.first)
            #expect(step.traceID == jobSpan.traceID && step.parentID == jobSpan.spanID)
            #expect(partitions.count == 3)
            var partitionIDs: Set<String> = []
            for partition in partitions {
                // The worker's span: the launcher's trace, the launcher's step as its parent.
                #expect(partition.traceID == jobSpan.traceID)
                #expect(partition.parentID == step.spanID)
                partitionIDs.insert(partition.spanID)
            }
            // Each partition's tasklet commit is a chunk span under its partition.
            var chunksUnderPartitions = 0
            for chunk in chunks where chunk.traceID == jobSpan.traceID && partitionIDs.contains(chunk.parentID ?? "") {
                chunksUnderPartitions += 1
            }
            #expect(chunksUnderPartitions == 3)
        }
    }
}
