import ArgumentParser
import Batch
import BatchCluster
import BatchPostgres
import Foundation

/// How `launch`, `restart` and `status --watch` show progress on standard error.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// `line` on a terminal, `plain` otherwise.
    case auto
    /// One line redrawn in place every second.
    case line
    /// A plain line every 5 seconds (logs, CI).
    case plain
    /// One JSON object per line, every second.
    case json
    /// Nothing.
    case off
}

/// The progress options shared by `launch`, `restart` and `status`.
struct ProgressOptions: ParsableArguments {
    @Option(
        name: .customLong("progress"),
        help: ArgumentHelp(
            "How to show progress on stderr: auto, line, plain, json or off.",
            discussion: """
                auto (default): a line redrawn every second on a terminal, else a plain line every 5 s \
                (and when a step starts or ends); \
                json: one object per line every second.
                """,
            valueName: "mode"))
    var mode: ProgressMode = .auto

    @Flag(name: [.customShort("q"), .customLong("quiet"), .customLong("no-progress")], help: "Show no progress.")
    var quiet = false

    /// The mode in force, `auto` resolved.
    var resolved: ProgressMode {
        if quiet { return .off }
        if mode == .auto { return StatusLine.standardErrorIsTerminal ? .line : .plain }
        return mode
    }
}

/// Follows one execution from the repository and shows its progress: one cheap query a second,
/// on a connection and thread of its own (libpq never runs on the cooperative pool), so the job
/// is not slowed. A lost connection is retried at the next tick, silently.
final class ProgressMonitor: @unchecked Sendable {
    // Sendable rule: `executionID`, `stopped`, `woken`, `finished` and `latest` are only touched with `condition`
    // locked; the session and the rate samples only by the monitor's thread.
    private let condition = NSCondition()
    private var executionID: Int64?
    private var stopped = false
    private var woken = false
    private var finished = false
    private var latest: ExecutionProgress?
    private let mode: ProgressMode
    private let repository: PostgresJobRepository
    private let stopWhenEnded: Bool
    private var samples: [(time: Date, read: Int64)] = []
    private var lastPrinted: Date?
    private var lastPhase = ""

    /// - Parameter stopWhenEnded: end the monitor once the execution is no longer running
    ///   (`status --watch`); otherwise it runs until ``stop()``.
    init(connectionString: String?, mode: ProgressMode, executionID: Int64? = nil, stopWhenEnded: Bool = false) {
        self.repository = PostgresJobRepository(connectionString: connectionString, synchronousCommit: true)
        self.mode = mode
        self.executionID = executionID
        self.stopWhenEnded = stopWhenEnded
        let thread = Thread { [self] in loop() }
        thread.name = "progress"
        thread.start()
    }

    /// Starts following `id` (a launch learns its execution once it is created).
    func follow(_ id: Int64) {
        condition.lock()
        executionID = id
        woken = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the monitor, clears the progress line, and waits for the thread to finish.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
        StatusLine.shared.clear()
    }

    /// Blocks until the execution ended (with `stopWhenEnded`) or ``stop()``; returns the last
    /// picture read.
    func waitUntilFinished() -> ExecutionProgress? {
        condition.lock()
        defer { condition.unlock() }
        while !finished { condition.wait() }
        return latest
    }

    private func loop() {
        var session: PostgresJobRepositorySession?
        defer {
            session?.close()
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        // A read costs what the execution's step rows cost (0.4 s at 100,000 partitions): reads
        // are spaced by ten times their cost, at least a second, so progress never takes more
        // than a tenth of a database core from the job.
        var spacing: TimeInterval = 1
        while true {
            condition.lock()
            let id = executionID
            let stop = stopped
            condition.unlock()
            if stop { return }
            if let id {
                do {
                    // One session across reads, opened again only after one failed.
                    let open = try session ?? repository.openPostgresSession()
                    session = open
                    let started = Date()
                    let read = try open.executionProgress(id: id)
                    spacing = max(1, Date().timeIntervalSince(started) * 10)
                    if let progress = read {
                        condition.lock()
                        latest = progress
                        condition.unlock()
                        show(progress)
                        if stopWhenEnded && !progress.status.isRunning {
                            StatusLine.shared.clear()
                            return
                        }
                    }
                } catch {
                    session?.close()
                    session = nil
                }
            }
            // A tick a second (or the spacing above); `follow` and `stop` wake it at once.
            condition.lock()
            let deadline = Date(timeIntervalSinceNow: spacing)
            while !stopped, !woken, condition.wait(until: deadline) {}
            woken = false
            condition.unlock()
        }
    }

    private func show(_ progress: ExecutionProgress) {
        let now = progress.now
        samples.append((now, progress.read))
        samples.removeAll { now.timeIntervalSince($0.time) > 10 }
        let line = ProgressLine(progress, samples: samples)
        switch mode {
        case .line:
            StatusLine.shared.draw(line.text)
        case .json:
            StatusLine.shared.printLine(line.json)
        case .plain:
            // Every 5 s, and whenever the execution or its current step changes status.
            let phase = "\(progress.status) \(progress.currentStep.map { "\($0.name) \($0.status)" } ?? "")"
            if let lastPrinted, now.timeIntervalSince(lastPrinted) < 5, phase == lastPhase { return }
            lastPrinted = now
            lastPhase = phase
            StatusLine.shared.printLine("progress: " + line.text)
        case .auto, .off:
            break
        }
    }
}

/// One picture of an execution's progress, as text and as JSON.
struct ProgressLine {
    var progress: ExecutionProgress
    var itemsPerSecond: Double?
    var elapsed: Double?
    var eta: Double?

    init(_ progress: ExecutionProgress, samples: [(time: Date, read: Int64)]) {
        self.progress = progress
        elapsed = progress.elapsedSeconds
        itemsPerSecond = progress.itemsPerSecond(samples: samples)
        eta = progress.estimatedSecondsRemaining
    }

    var text: String {
        var parts = ["execution \(progress.executionID) \(progress.jobName) \(progress.status.rawValue)"]
        if let step = progress.currentStep {
            var part = "step \(step.name)"
            if let partitions = step.partitions {
                part += " partitions \(partitions.done)/\(partitions.total)"
                if partitions.failed > 0 { part += " (\(partitions.failed) failed)" }
            }
            parts.append(part)
        }
        parts.append("read \(progress.read) written \(progress.written)")
        if let itemsPerSecond { parts.append("\(Int(itemsPerSecond.rounded())) items/s") }
        if let elapsed { parts.append("elapsed \(Self.clock(elapsed))") }
        if let eta { parts.append("ETA \(Self.clock(eta))") }
        return parts.joined(separator: " | ")
    }

    var json: String {
        var object: [String: Any] = [
            "execution": progress.executionID, "job": progress.jobName, "status": progress.status.rawValue,
            "read": progress.read, "written": progress.written,
        ]
        if let step = progress.currentStep {
            object["step"] = step.name
            if let partitions = step.partitions {
                object["partitions"] = ["total": partitions.total, "done": partitions.done, "failed": partitions.failed]
            }
        }
        if let itemsPerSecond { object["itemsPerSecond"] = (itemsPerSecond * 10).rounded() / 10 }
        if let elapsed { object["elapsedSeconds"] = (elapsed * 10).rounded() / 10 }
        if let eta { object["etaSeconds"] = eta.rounded() }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// `1:05` or `2:03:04`.
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }
}
