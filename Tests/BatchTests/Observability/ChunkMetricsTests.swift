import Batch
import BatchTestSupport
import Metrics
import MetricsTestKit
import Synchronization
import Testing

/// The chunk metrics count what the repository counts: once per committed chunk, from the
/// counts the commit saved, so a rolled-back attempt that is retried is not counted twice.
@Suite("Chunk metrics", .serialized)
struct ChunkMetricsTests {
    /// swift-metrics takes one backend per process: the test kit's, installed once.
    static let metrics: TestMetrics = {
        let metrics = TestMetrics()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()

    /// Throws a transient failure at the first write of the chunk holding `item`, once.
    final class HiccupOnce: ItemWriter, Sendable {
        let item: Int64
        let thrown = Atomic(false)
        init(at item: Int64) { self.item = item }
        func open(_ context: ExecutionContext) throws {}
        func update(_ context: inout ExecutionContext) throws {}
        func write(_ items: [Int64], in chunk: ChunkContext) throws {
            if items.contains(item), !thrown.exchange(true, ordering: .relaxed) { throw Hiccup() }
        }
    }

    @Test func countersMatchTheStepsCountsThroughRetriesAndSkips() async throws {
        let metrics = Self.metrics
        let poison = PoisonSwitch()
        poison.poison(7, 33)
        let job = Job("metrics-test") {
            ChunkStep("numbers", commitInterval: 10, skipPolicy: .skip([PoisonedItem.self], limit: 5)) { _ in
                (NumberReader(count: 95), CheckingProcessor(poison: poison), HiccupOnce(at: 42))
            }
        }
        let execution = try await JobLauncher(repository: InMemoryJobRepository()).run(job, parameters: [:])
        #expect(execution.status == .completed)

        let tags = [("job.name", "metrics-test"), ("step.name", "numbers")]
        func counter(_ label: String, _ extra: [(String, String)] = []) throws -> Int64 {
            try metrics.expectCounter(label, tags + extra).totalValue
        }
        #expect(try counter(BatchMetricNames.itemRead, [("status", "SUCCESS")]) == 95)
        #expect(try counter(BatchMetricNames.itemProcess, [("status", "SUCCESS")]) == 93)
        #expect(try counter(BatchMetricNames.itemProcess, [("status", "FAILURE")]) == 2)
        #expect(try counter(BatchMetricNames.itemSkip, [("phase", "process")]) == 2)
        #expect(try counter(BatchMetricNames.itemFilter) == 9)                // 10, 20, ..., 90
        #expect(try counter(BatchMetricNames.itemWrite) == 95 - 2 - 9)
        // 10 chunks committed, one attempt rolled back and retried.
        let committed = try metrics.expectTimer(BatchMetricNames.chunkWrite, tags + [("status", "SUCCESS")])
        let rolledBack = try metrics.expectTimer(BatchMetricNames.chunkWrite, tags + [("status", "FAILURE")])
        #expect(committed.values.count == 10)
        #expect(rolledBack.values.count == 1)
        let jobTimer = try metrics.expectTimer(BatchMetricNames.job, [("name", "metrics-test"), ("status", "COMPLETED")])
        #expect(jobTimer.values.count == 1)
        let stepTimer = try metrics.expectTimer(
            BatchMetricNames.step, [("name", "numbers"), ("job.name", "metrics-test"), ("status", "COMPLETED")])
        #expect(stepTimer.values.count == 1)
    }
}
