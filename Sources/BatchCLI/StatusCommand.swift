import ArgumentParser
import Batch
import BatchPostgres
import PostgresClient
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show recent job executions, or one execution with its steps.",
        discussion: """
            Examples:
              swiftbatch status                 # the newest executions
              swiftbatch status --job ledger-etl
              swiftbatch status 42              # execution 42 and its steps
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "A job execution id.")
    var execution: Int64?

    @Option(help: "Only executions of this job.")
    var job: String?

    @Option(help: "How many executions to list.")
    var limit: Int = 20

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be a positive number") }
    }

    func run() async throws {
        if let execution {
            try await database.connectChecked(name: "status").close()
            try await ExecutionReport.print(executionID: execution, database: database)
            return
        }
        let job = self.job
        let limit = self.limit
        let rows = try await database.withSession(name: "status") { session in
            try await session.run { connection in
                try PostgresJobRepositorySession(connection: connection).recentExecutions(jobName: job, limit: limit)
            }
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
}
