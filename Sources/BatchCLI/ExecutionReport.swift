import Batch
import BatchPostgres
import Foundation

/// Prints an execution and its steps the way an operator reads them.
enum ExecutionReport {
    static func print(executionID: Int64, database: DatabaseOptions) async throws {
        let text = try await database.withRepositorySession { repository in
            guard let execution = try repository.jobExecution(id: executionID) else {
                throw CommandFailure("no job execution \(executionID)", exitCode: ExitCodes.usage)
            }
            let (steps, partitions) = try repository.reportSteps(jobExecutionID: executionID, named: namedPartitions)
            return render(execution, steps, partitions)
        }
        Swift.print(text, terminator: "")
    }

    /// How many unfinished partitions a report names one by one.
    static let namedPartitions = 20

    static func render(_ execution: JobExecution, _ steps: [StepExecution], _ partitions: [String: PartitionSummary]) -> String {
        var text = "Job \(execution.jobName), execution \(execution.id): \(execution.status.rawValue)"
        if let duration = duration(execution.startTime, execution.endTime) { text += " in \(duration)" }
        text += "\n"
        let parameters = execution.parameters.map { "\($0.name)=\($0.parameter.storageValue)" }
        if !parameters.isEmpty { text += "  parameters: \(parameters.joined(separator: " "))\n" }
        // Partitions (`<step>:<partition>`) are summed up under their manager step, and only
        // the first few that did not complete are named.
        for step in steps {
            let c = step.counts
            text += "  step \(step.stepName): \(step.status.rawValue)"
            // A custom exit code (COMPLETED WITH SKIPS, NEEDS REPAIR) is what a flow routed on.
            if step.exitStatus.exitCode != step.status.rawValue { text += " (\(step.exitStatus.exitCode))" }
            if let duration = duration(step.startTime, step.endTime) { text += " in \(duration)" }
            text += ", read \(c.read), written \(c.write)"
            if c.filter > 0 { text += ", filtered \(c.filter)" }
            if c.skip > 0 { text += ", skipped \(c.skip)" }
            text += ", commits \(c.commit)"
            if c.rollback > 0 { text += ", rollbacks \(c.rollback)" }
            text += "\n"
            if step.status == .failed || step.status == .stopped, !step.exitStatus.exitDescription.isEmpty {
                text += "    \(step.exitStatus.exitDescription)\n"
            }
            if let summary = partitions[step.stepName] {
                text += "    partitions: \(summary.total) in this execution, \(summary.completed) completed\n"
                for part in summary.unfinished {
                    let reason = part.exitStatus.exitDescription.isEmpty ? "" : ": \(part.exitStatus.exitDescription)"
                    text += "    \(part.stepName) \(part.status.rawValue), read \(part.counts.read)\(reason)\n"
                }
                let unnamed = summary.total - summary.completed - summary.unfinished.count
                if unnamed > 0 {
                    text += "    ... and \(unnamed) more (all of them: \(ApplicationName.current) status \(execution.id) --json, or the batch_dashboard_failures view)\n"
                }
            }
        }
        // A flow may fail or stop after steps that all completed (a decider, a `fail` or `stop`
        // transition): then only the job's exit status says why.
        let explained = steps.contains { $0.status == .failed || $0.status == .stopped }
        if execution.status == .failed || execution.status == .stopped, !explained {
            text += "  \(execution.exitStatus.exitCode): \(execution.exitStatus.exitDescription)\n"
        }
        switch execution.status {
        case .failed, .stopped:
            text += "  restart it with: \(ApplicationName.current) restart \(execution.id)\n"
        case .starting, .started, .stopping:
            text += "  stop it with: \(ApplicationName.current) stop \(execution.id)\n"
        default:
            break
        }
        return text
    }

    static func duration(_ start: Date?, _ end: Date?) -> String? {
        guard let start else { return nil }
        let seconds = (end ?? Date()).timeIntervalSince(start)
        if seconds < 60 { return String(format: "%.2f s", seconds) }
        return String(format: "%dm %02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}
