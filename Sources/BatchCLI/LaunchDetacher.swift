import ArgumentParser
import Batch
import BatchCluster
import BatchPostgres
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C on `launch`/`restart`: the launcher detaches from its execution and exits 130. It
/// asks nothing and stops nothing: local workers hand their partitions back (ready, checkpoint
/// kept); an execution awaiting partitions goes on in the workers and the launcher releases
/// its lease so a new launch attaches at once; a step that ran inside this process cannot
/// outlive it, so the execution is FAILED now, restartable from its last commit.
final class LaunchDetacher: Sendable {
    private struct Started {
        var execution: JobExecution
        var launcher: LauncherIdentity
    }

    private let state = Mutex<(started: Started?, detaching: Bool)>((nil, false))
    private let job: Job
    private let repository: PostgresJobRepository
    private let localWorkers: Int
    private let monitor: ProgressMonitor?
    private let local: (worker: PartitionWorker, done: DispatchSemaphore)?

    init(
        job: Job, database: DatabaseOptions, localWorkers: Int, monitor: ProgressMonitor?,
        local: (worker: PartitionWorker, done: DispatchSemaphore)?
    ) {
        self.job = job
        self.repository = database.repository
        self.localWorkers = localWorkers
        self.monitor = monitor
        self.local = local
    }

    /// The launch created (or attached to) `execution`.
    func started(_ execution: JobExecution, _ launcher: LauncherIdentity) {
        state.withLock { $0.started = Started(execution: execution, launcher: launcher) }
    }

    var isDetaching: Bool { state.withLock { $0.detaching } }

    /// Starts detaching, on a thread of its own; the process exits when done.
    func detach() {
        state.withLock { $0.detaching = true }
        let thread = Thread { [self] in
            // Log lines of the job still running in this process would only confuse now.
            StatusLine.shared.mute()
            monitor?.stop()
            if let local {
                local.worker.shutdown()
                local.done.wait()
            }
            exit(finish())
        }
        thread.name = "detach"
        thread.start()
    }

    /// Parks the caller (the launch's task) while the detaching thread exits the process.
    func parkUntilExit() async -> Never {
        while true { try? await Task.sleep(for: .seconds(3600)) }
    }

    private func finish() -> Int32 {
        let say = StatusLine.shared.printLine
        guard let started = state.withLock({ $0.started }) else {
            say("\(ApplicationName.current): interrupted before an execution was created; if one was, `\(ApplicationName.current) status` shows it and `\(ApplicationName.current) recover` fails it once this launcher's lease runs out.")
            return ExitCodes.detached.rawValue
        }
        let id = started.execution.id
        let reason = "its launcher (pid \(started.launcher.pid) on \(started.launcher.host)) was interrupted (SIGINT) while this step ran in it; restart to resume from the last commit"
        let outcome: DetachOutcome
        do {
            // This is the detaching thread, not the cooperative pool: blocking here is fine.
            let session = try repository.openPostgresSession()
            defer { session.close() }
            outcome = try session.detachLauncher(executionID: id, owner: started.launcher.owner, reason: reason)
        } catch {
            say("""
                \(ApplicationName.current): detached from execution \(id), but could not tell the repository (\(error)).
                  Once this launcher's lease runs out (\(Int(started.launcher.leaseSeconds)) s), `\(relaunch(started.execution))` attaches to it or restarts it; `\(ApplicationName.current) recover` fails it if nothing runs it.
                """)
            return ExitCodes.detached.rawValue
        }
        switch outcome {
        case .awaitingPartitions(let workers):
            let serving = workers > 0
                ? "it goes on in the workers (\(workers) live)"
                : "no live worker serves it: its partitions wait for `\(ApplicationName.current) worker` (or re-attach with --local-workers N)"
            say("""
                \(ApplicationName.current): detached from execution \(id) (\(job.name)); \(serving).
                  watch it:   \(ApplicationName.current) status \(id) --watch
                  re-attach:  \(relaunch(started.execution))   (attaches at once: this launcher released its lease)
                  stop it:    \(ApplicationName.current) stop \(id)
                """)
        case .failed(let steps):
            let running = steps.isEmpty ? "between steps" : "running step \(steps.joined(separator: ", ")) in this launcher"
            say("""
                \(ApplicationName.current): execution \(id) (\(job.name)) was \(running), which cannot outlive it: it is now FAILED.
                  Its committed chunks are kept; resume from the last commit with: \(ApplicationName.current) restart \(id)   (or: \(relaunch(started.execution)))
                """)
        case .ended(let status):
            say("\(ApplicationName.current): execution \(id) had already ended \(status.rawValue); see `\(ApplicationName.current) status \(id)`.")
            return ExitCodes.forExecution(status).rawValue
        case .notOurs:
            say("\(ApplicationName.current): another launch took execution \(id) over; nothing changed. Watch it with: \(ApplicationName.current) status \(id) --watch")
        }
        return ExitCodes.detached.rawValue
    }

    /// The `launch` that names the same instance (and so attaches to or restarts it).
    private func relaunch(_ execution: JobExecution) -> String {
        let specs = Dictionary(job.parameterSpecs.map { ($0.name, $0) }) { a, _ in a }
        var words = [ApplicationName.current, "launch", job.name]
        for (name, parameter) in execution.parameters {
            // A declared parameter is typed by the job; anything else is spelled out in full.
            if let spec = specs[name], spec.identifying == parameter.identifying {
                words.append("\(name)=\(parameter.storageValue)")
            } else {
                words.append(parameter.commandLineArgument(name: name))
            }
        }
        if localWorkers > 0 { words += ["--local-workers", String(localWorkers)] }
        return words.map(Self.shellQuoted).joined(separator: " ")
    }

    private static func shellQuoted(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isLetter || $0.isNumber || "-_=.,/:+@".contains($0) }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
