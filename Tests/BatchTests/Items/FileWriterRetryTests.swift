import Batch
import BatchTestSupport
import Foundation
import Synchronization
import Testing

/// A COMMIT refused as PostgreSQL refuses one in a deadlock: retryable.
struct CommitDeadlock: TransientFailure, Sendable, CustomStringConvertible {
    var isTransient: Bool { true }
    var description: String { "deadlock detected at COMMIT (injected)" }
}

/// Makes the commit of chosen chunk attempts (1-based, counting retries) fail once each.
final class CommitFailureInjector: StepListener {
    let repository: InMemoryJobRepository
    let failing: Set<Int>
    private let attempts = Mutex(0)

    init(_ repository: InMemoryJobRepository, failing: Set<Int>) {
        self.repository = repository
        self.failing = failing
    }

    func beforeChunk(_ chunk: ChunkContext) {
        let attempt = attempts.withLock { count in
            count += 1
            return count
        }
        if failing.contains(attempt) { repository.failChunkCommits(1, step: chunk.stepName, with: CommitDeadlock()) }
    }
}

/// The file writers write and sync a chunk's records before its commit; when the commit fails
/// and the chunk is retried, the file must end with each committed record exactly once.
@Suite("File writers on a retried chunk", .timeLimit(.minutes(2)))
struct FileWriterRetryTests {
    static func export(_ path: String, json: Bool, listeners: [any StepListener]) -> Job {
        json
            ? job(listeners) { JSONLinesItemWriter<Int>(path: path) }
            : job(listeners) { CSVItemWriter<Int>(path: path, header: ["n", "square"]) { [String($0), String($0 * $0)] } }
    }

    static func job<Writer: ItemWriter<Int> & SendableMetatype>(
        _ listeners: [any StepListener], _ writer: @escaping @Sendable () -> Writer
    ) -> Job {
        Job("export", parameters: [.required("run", .string)]) {
            ChunkStep("export", commitInterval: 3, listeners: listeners) { _ in (ArrayReader(Array(1...10)), writer()) }
        }
    }

    static func expected(json: Bool) -> String {
        json
            ? (1...10).map { "\($0)\n" }.joined()
            : "n,square\n" + (1...10).map { "\($0),\($0 * $0)\n" }.joined()
    }

    @Test(arguments: [false, true])
    func theFirstChunksCommitFailingOnceWritesItOnce(json: Bool) async throws {
        try await withTemporaryDirectoryAsync { directory in
            let path = directory + (json ? "/out.jsonl" : "/out.csv")
            let repository = InMemoryJobRepository()
            repository.failChunkCommits(1, step: "export", with: CommitDeadlock())
            let job = Self.export(path, json: json, listeners: [])
            let execution = try await JobLauncher(repository: repository).run(job, parameters: ["run": .string("a")])
            #expect(execution.status == .completed)
            #expect(try readFile(path) == Self.expected(json: json))
            let step = try #require(try repository.openSession().stepExecutions(jobExecutionID: execution.id).first)
            #expect(step.counts.rollback == 1)
            #expect(step.counts.commit == 4)
            #expect(step.counts.write == 10)
        }
    }

    @Test(arguments: [false, true])
    func commitsFailingOnLaterChunksAndTwiceInARowLeaveEachRecordOnce(json: Bool) async throws {
        try await withTemporaryDirectoryAsync { directory in
            let path = directory + (json ? "/out.jsonl" : "/out.csv")
            let repository = InMemoryJobRepository()
            // Attempts: 1 chunk 1 commits; 2, 3 chunk 2 fails twice; 4 it commits; 5 chunk 3
            // fails; 6 it commits; 7 chunk 4 commits.
            let injector = CommitFailureInjector(repository, failing: [2, 3, 5])
            let job = Self.export(path, json: json, listeners: [injector])
            let execution = try await JobLauncher(repository: repository).run(job, parameters: ["run": .string("b")])
            #expect(execution.status == .completed)
            #expect(try readFile(path) == Self.expected(json: json))
            let step = try #require(try repository.openSession().stepExecutions(jobExecutionID: execution.id).first)
            #expect(step.counts.rollback == 3)
            #expect(step.counts.commit == 4)
            #expect(step.counts.write == 10)
            #expect(step.context.int(json ? "jsonLinesWriter.offset" : "csvWriter.offset") == Int64(Self.expected(json: json).utf8.count))
        }
    }

    @Test func aCommitFailingPastTheRetryLimitLeavesTheFileAtTheLastCommitAndARestartFinishesIt() async throws {
        try await withTemporaryDirectoryAsync { directory in
            let path = directory + "/out.csv"
            let repository = InMemoryJobRepository()
            // Chunk 2 fails on all five attempts: the step fails after chunk 1 committed.
            let injector = CommitFailureInjector(repository, failing: [2, 3, 4, 5, 6])
            let job = Self.export(path, json: false, listeners: [injector])
            let launcher = JobLauncher(repository: repository)
            let failed = try await launcher.run(job, parameters: ["run": .string("c")])
            #expect(failed.status == .failed)
            // Chunk 2's records were written and synced by its last attempt; the restart cuts
            // them off at chunk 1's offset and writes them again, once.
            let restarted = try await launcher.run(job, parameters: ["run": .string("c")])
            #expect(restarted.status == .completed)
            #expect(try readFile(path) == Self.expected(json: false))
        }
    }
}

func withTemporaryDirectoryAsync<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let path = NSTemporaryDirectory() + "swiftbatch-items-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}
