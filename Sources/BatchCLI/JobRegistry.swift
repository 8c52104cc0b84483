import Batch
import Synchronization

/// The jobs the running executable offers, handed over once by `SwiftBatchCLI.main(jobs:)`.
enum JobRegistry {
    private static let jobs = Mutex<[String: Job]>([:])

    static func register(_ list: [Job]) {
        jobs.withLock { table in
            for job in list {
                precondition(table[job.name] == nil, "two jobs are named \(job.name)")
                table[job.name] = job
            }
        }
    }

    static var all: [Job] {
        jobs.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// The job named `name`, or a usage failure that lists the known ones.
    static func job(named name: String) throws -> Job {
        if let job = jobs.withLock({ $0[name] }) { return job }
        let known = all.map(\.name).joined(separator: ", ")
        throw CommandFailure(
            "unknown job \"\(name)\"; the jobs here are: \(known.isEmpty ? "(none)" : known) (see `\(ApplicationName.current) jobs`)",
            exitCode: ExitCodes.usage)
    }
}
