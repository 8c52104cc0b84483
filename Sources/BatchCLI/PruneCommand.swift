import ArgumentParser
import Batch
import BatchPostgres
import Foundation

struct PruneCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "prune",
            abstract: "Delete the history of job instances that finished before a cutoff.",
            discussion: """
                The rule: a job instance is pruned when its newest execution ended COMPLETED or \
                ABANDONED before the cutoff (now minus --older-than). Then every older execution of \
                it is deleted with all its rows (parameters, context, step executions and their \
                contexts, partitions, skipped items, launcher record), and so are the newest \
                execution's step executions, partitions, skipped items and launcher record. The newest \
                execution's own row, parameters and context stay, so `launch` still refuses a \
                completed instance (and `--next` still counts on), and `status <id>` still shows how \
                it ended. Instances whose newest execution FAILED or STOPPED are kept whole: a restart \
                needs their history (abandon them first to let prune take them); running ones are \
                never touched.

                Work goes in batches of --batch-size instances, one transaction each, so a huge \
                history never holds long locks; a launch of an instance being pruned waits for its \
                batch. Prints how many rows of each kind it deleted (--dry-run: would delete).

                Examples:
                  \(ApplicationName.current) prune --older-than 30d --dry-run
                  \(ApplicationName.current) prune --older-than 12h --batch-size 200
                """)
    }

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("older-than"),
        help: ArgumentHelp("Age of the history to delete: a number and a unit, s, m, h, d or w (30d, 12h, 90m).", valueName: "age"))
    var olderThan: String

    @Flag(help: "Count what would be deleted, and delete nothing.")
    var dryRun = false

    @Option(name: .customLong("batch-size"), help: "Job instances per transaction.")
    var batchSize: Int = 500

    func validate() throws {
        _ = try Self.seconds(olderThan)
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 100000") }
    }

    /// `30d`, `12h`, `90m`, `45s`, `2w` in seconds.
    static func seconds(_ text: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let unit = text.last.flatMap({ units[$0] }), let number = Double(text.dropLast()), number > 0,
            text.dropLast().allSatisfy({ $0.isNumber || $0 == "." })
        else {
            throw ValidationError(
                "--older-than \"\(text)\" is not an age: write a positive number and a unit, s, m, h, d or w (e.g. 30d, 12h, 90m)")
        }
        return number * unit
    }

    func run() async throws {
        let cutoff = Date(timeIntervalSinceNow: -(try Self.seconds(olderThan)))
        let (dryRun, batchSize) = (self.dryRun, self.batchSize)
        let total = try await database.withRepositorySession { repository in
            let candidates = try repository.pruneCandidates(cutoff: cutoff)
            var total = PruneCounts()
            for start in stride(from: 0, to: candidates.count, by: batchSize) {
                let batch = Array(candidates[start..<min(start + batchSize, candidates.count)])
                total += try repository.prune(instances: batch, cutoff: cutoff, dryRun: dryRun)
            }
            return total
        }
        let format = Date.ISO8601FormatStyle(timeSeparator: .colon).year().month().day().time(includingFractionalSeconds: false)
        let before = cutoff.formatted(format).replacingOccurrences(of: "T", with: " ")
        print("\(dryRun ? "Would prune" : "Pruned") the history of \(total.instances) job instances that finished before \(before) UTC:")
        let rows: [(String, Int)] = [
            ("job executions", total.jobExecutions), ("job execution parameters", total.jobParameters),
            ("job execution contexts", total.jobContexts), ("step executions", total.stepExecutions),
            ("step execution contexts", total.stepContexts), ("partitions", total.partitions), ("remote chunks", total.remoteChunks),
            ("skipped items", total.skippedItems), ("launcher records", total.launchers),
        ]
        for (name, count) in rows {
            print("  \(dryRun ? "would delete" : "deleted") \(count) \(name)")
        }
        if total.instances > 0 {
            print("The newest execution of each instance is kept (its row, parameters and context), so completed instances are still refused.")
        }
    }
}
