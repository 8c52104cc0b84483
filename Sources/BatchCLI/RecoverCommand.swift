import ArgumentParser
import Batch
import BatchPostgres

struct RecoverCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "recover",
            abstract: "Mark FAILED the running executions whose launcher and workers are all gone.",
            discussion: """
                An execution is gone when its launcher's lease ran out (see `launch --lease-seconds`) \
                and no worker holds a live lease on any of its partitions. recover marks each such \
                execution FAILED (exit code FAILED, a message saying why, end time set), its running \
                step executions FAILED, and its unfinished partitions (ready, or claimed under an \
                expired lease) FAILED, so no worker picks them up; `\(ApplicationName.current) restart <id>` (or the \
                same launch again) then runs them from their checkpoints, and keeps completed ones. \
                An execution whose launcher is alive, whose partitions a worker still runs (launch \
                it again to attach), or that has no launcher record (launched by an older \(ApplicationName.current)) \
                is left alone. Each execution is decided and changed in one transaction under the \
                same lock a launch takes, so recover never races a launch.

                Prints one line per running execution: what it did, or why it left it alone.

                Examples:
                  \(ApplicationName.current) recover --dry-run     # what it would do
                  \(ApplicationName.current) recover
                """)
    }

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Decide and print, but change nothing.")
    var dryRun = false

    func run() async throws {
        let dryRun = self.dryRun
        let decisions = try await database.withRepositorySession { try $0.recoverAbandonedExecutions(dryRun: dryRun) }
        if decisions.isEmpty {
            print("No running execution: nothing to recover.")
            return
        }
        for decision in decisions {
            print(Self.line(decision, dryRun: dryRun))
        }
    }

    static func line(_ decision: RecoveryDecision, dryRun: Bool) -> String {
        let what = "execution \(decision.executionID) (\(decision.jobName))"
        let launcher = decision.launcher.map { " (launcher \($0))" } ?? ""
        switch decision.action {
        case .failed(let partitions):
            let marked = dryRun ? "would be marked FAILED" : "marked FAILED"
            let parts = partitions > 0 ? ", \(partitions) unfinished partitions with it" : ""
            return "\(what): \(marked)\(parts): its launcher and workers are gone\(launcher); restart it with: \(ApplicationName.current) restart \(decision.executionID)"
        case .launcherAlive:
            return "\(what): left running: its launcher is alive\(launcher)"
        case .workersHoldPartitions(let claims):
            return "\(what): left running: workers hold \(claims) of its partitions\(launcher); launch the same job and parameters to attach to it"
        case .noLauncherRecord:
            return "\(what): left running: no launcher record (launched by an older \(ApplicationName.current)); if nothing runs it, fail it by hand"
        }
    }
}
