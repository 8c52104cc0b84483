import Batch
import BatchTestSupport
import Synchronization
import Testing

/// Counts every hook it sees.
final class RecordingListener: JobListener, StepListener {
    let counts = Mutex<[String: Int]>([:])
    let skipped = Mutex<[String]>([])

    func note(_ hook: String, _ n: Int = 1) { counts.withLock { $0[hook, default: 0] += n } }
    subscript(hook: String) -> Int { counts.withLock { $0[hook] ?? 0 } }

    func beforeJob(_ execution: JobExecution) { note("beforeJob") }
    func afterJob(_ execution: JobExecution) { note("afterJob") }
    func beforeStep(_ execution: StepExecution) { note("beforeStep") }
    func afterStep(_ execution: StepExecution) -> Batch.ExitStatus? {
        note("afterStep")
        return execution.counts.skip > 0 ? Batch.ExitStatus(exitCode: "COMPLETED WITH SKIPS") : nil
    }
    func beforeChunk(_ chunk: ChunkContext) { note("beforeChunk") }
    func afterChunk(_ chunk: ChunkContext) { note("afterChunk") }
    func afterChunkError(_ chunk: ChunkContext, _ error: any Error) { note("afterChunkError") }
    func afterRead(_ item: Any) { note("afterRead") }
    func afterProcess(_ item: Any, result: Any?) { note(result == nil ? "filtered" : "afterProcess") }
    func onProcessError(_ item: Any, _ error: any Error) { note("onProcessError") }
    func beforeWrite(_ items: [Any]) { note("beforeWrite", items.count) }
    func afterWrite(_ items: [Any]) { note("afterWrite", items.count) }
    func onSkip(_ item: SkippedItem) { skipped.withLock { $0.append("\(item.phase.rawValue) \(item.itemKey)") } }
}

@Suite("Listeners", .timeLimit(.minutes(2)))
struct ListenerTests {
    @Test func everyHookIsCalledTheRightNumberOfTimes() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let listener = RecordingListener()
            let output = engine.output
            let poison = PoisonSwitch()
            poison.poison(42, 4_242)
            let job = Job("listened", parameters: [.required("batch", .string)], listeners: [listener]) {
                TaskletStep("prepare") { _, _ in .finished }
                ChunkStep(
                    "load", commitInterval: 1000, skipPolicy: .skip([PoisonedItem.self], limit: 5), listeners: [listener]
                ) { _ in
                    (NumberReader(count: 5_000), CheckingProcessor(poison: poison), NumberWriter(output))
                }
            }
            let execution = try await launcher.run(job, parameters: ["batch": .string("x")])
            #expect(execution.status == .completed)
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.exitStatus.exitCode == "COMPLETED WITH SKIPS")
            #expect(listener["beforeJob"] == 1 && listener["afterJob"] == 1)
            #expect(listener["beforeStep"] == 1 && listener["afterStep"] == 1)
            #expect(listener["beforeChunk"] == 6 && listener["afterChunk"] == 6)
            #expect(listener["afterChunkError"] == 0)
            #expect(listener["afterRead"] == 5_000)
            #expect(listener["onProcessError"] == 2)
            #expect(listener["filtered"] == 500)
            #expect(listener["afterProcess"] == 4_498)
            #expect(listener["beforeWrite"] == 4_498 && listener["afterWrite"] == 4_498)
            #expect(listener.skipped.withLock { $0 } == ["process 42", "process 4242"])
        }
    }
}
