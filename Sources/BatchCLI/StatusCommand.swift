import ArgumentParser
import Batch
import BatchPostgres
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "status",
            abstract: "Show recent job executions, or one execution with its steps; --watch follows one to its end.",
            discussion: """
                --json prints JSON on stdout: the list (an array), or one execution with its steps \
                and, for a partitioned step, its partitions (total, done, completed, failed, stopped, \
                running). A running partitioned step's counts are its partitions' sums so far.

                --watch follows one execution (the newest running one when none is given) with a \
                progress line on stderr (see --progress), prints it when it ends, and exits with its \
                code: 0 COMPLETED, 1 FAILED (or ABANDONED), 3 STOPPED. Ctrl-C stops watching and \
                leaves the execution alone.

                Examples:
                  \(ApplicationName.current) status                 # the newest executions
                  \(ApplicationName.current) status --job \(HelpExamples.job) --limit 5
                  \(ApplicationName.current) status 42              # execution 42 and its steps
                  \(ApplicationName.current) status 42 --json | jq '.steps[0].partitions'
                  \(ApplicationName.current) status --watch         # follow the newest running execution
                  \(ApplicationName.current) status 42 --watch --progress plain

                \(ExitCodes.helpText)
                """)
    }

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "A job execution id.")
    var execution: Int64?

    @Option(help: "Only executions of this job.")
    var job: String?

    @Option(help: "How many executions to list.")
    var limit: Int = 20

    @Flag(help: "Print JSON (for scripts).")
    var json = false

    @Flag(help: "Follow one execution until it ends, then exit with its exit code.")
    var watch = false

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be a positive number") }
        if watch && job != nil { throw ValidationError("--watch follows one execution: give its id instead of --job") }
    }

    func run() async throws {
        if watch {
            try await watchExecution()
        } else if let execution {
            try await Self.show(executionID: execution, json: json, database: database)
        } else {
            try await list()
        }
    }

    private func watchExecution() async throws {
        let given = execution
        let id = try await database.withRepositorySession { repository -> Int64 in
            if let given {
                guard try repository.executionProgress(id: given) != nil else {
                    throw CommandFailure("no job execution \(given)", exitCode: ExitCodes.usage)
                }
                return given
            }
            guard let running = try repository.newestRunningExecution() else {
                throw CommandFailure(
                    "no execution is running, so there is none to watch; give an execution id (see `\(ApplicationName.current) status`)",
                    exitCode: ExitCodes.usage)
            }
            return running
        }
        let monitor = ProgressMonitor(
            connectionString: database.resolvedURL, mode: progress.resolved, executionID: id, stopWhenEnded: true)
        let ended = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: monitor.waitUntilFinished()) }.start()
        }
        try await Self.show(executionID: id, json: json, database: database)
        let exit = ExitCodes.forExecution(ended?.status ?? .unknown)
        if exit != ExitCodes.success { throw exit }
    }

    /// Prints one execution, as the report or as JSON.
    static func show(executionID: Int64, json: Bool, database: DatabaseOptions) async throws {
        guard json else {
            try await ExecutionReport.print(executionID: executionID, database: database)
            return
        }
        let document = try await database.withRepositorySession { repository -> ExecutionDocument in
            guard let progress = try repository.executionProgress(id: executionID),
                let execution = try repository.jobExecution(id: executionID)
            else { throw CommandFailure("no job execution \(executionID)", exitCode: ExitCodes.usage) }
            return ExecutionDocument(progress, parameters: execution.parameters)
        }
        try printJSON(document)
    }

    private func list() async throws {
        let job = self.job
        let limit = self.limit
        let rows = try await database.withRepositorySession { try $0.recentExecutions(jobName: job, limit: limit) }
        if json {
            try Self.printJSON(rows.map(SummaryDocument.init))
            return
        }
        if rows.isEmpty {
            print("No job executions yet.")
            return
        }
        print(pad("EXECUTION", 10) + pad("JOB", 22) + pad("STATUS", 11) + pad("STARTED (UTC)", 21) + pad("DURATION", 10) + pad("READ", 12) + "WRITTEN")
        let format = Date.ISO8601FormatStyle(timeSeparator: .colon).year().month().day().time(includingFractionalSeconds: false)
        for row in rows {
            let started = row.startTime.map { $0.formatted(format).replacingOccurrences(of: "T", with: " ") } ?? "-"
            print(
                pad(String(row.executionID), 10) + pad(row.jobName, 22) + pad(row.status.rawValue, 11)
                    + pad(started, 21) + pad(ExecutionReport.duration(row.startTime, row.endTime) ?? "-", 10)
                    + pad(String(row.read), 12) + String(row.written))
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// `status --json`: one line of the list.
struct SummaryDocument: Encodable {
    var id: Int64
    var job: String
    var status: String
    var exitCode: String
    var startTime: Date?
    var endTime: Date?
    var read: Int64
    var written: Int64

    init(_ row: ExecutionSummary) {
        id = row.executionID
        job = row.jobName
        status = row.status.rawValue
        exitCode = row.exitCode
        startTime = row.startTime
        endTime = row.endTime
        read = row.read
        written = row.written
    }
}

/// `status <execution> --json`.
struct ExecutionDocument: Encodable {
    struct Partitions: Encodable {
        var total: Int
        var done: Int
        var completed: Int
        var failed: Int
        var stopped: Int
        var running: Int
    }

    struct Step: Encodable {
        var id: Int64
        var name: String
        var status: String
        var exitCode: String
        var exitMessage: String
        var startTime: Date?
        var endTime: Date?
        var read: Int64
        var written: Int64
        var filtered: Int64
        var skipped: Int64
        var commits: Int64
        var rollbacks: Int64
        var partitions: Partitions?
    }

    var id: Int64
    var job: String
    var status: String
    var exitCode: String
    var exitMessage: String
    var parameters: [String: String]
    var startTime: Date?
    var endTime: Date?
    var read: Int64
    var written: Int64
    var steps: [Step]

    init(_ progress: ExecutionProgress, parameters: JobParameters) {
        id = progress.executionID
        job = progress.jobName
        status = progress.status.rawValue
        exitCode = progress.exitCode
        exitMessage = progress.exitMessage
        self.parameters = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.parameter.storageValue) })
        startTime = progress.startTime
        endTime = progress.endTime
        read = progress.read
        written = progress.written
        steps = progress.steps.map { step in
            let c = step.counts
            return Step(
                id: step.id, name: step.name, status: step.status.rawValue, exitCode: step.exitCode,
                exitMessage: step.exitMessage, startTime: step.startTime, endTime: step.endTime, read: c.read,
                written: c.write, filtered: c.filter, skipped: c.readSkip + c.processSkip + c.writeSkip,
                commits: c.commit, rollbacks: c.rollback,
                partitions: step.partitions.map {
                    Partitions(
                        total: $0.total, done: $0.done, completed: $0.completed, failed: $0.failed,
                        stopped: $0.stopped, running: $0.running)
                })
        }
    }
}
