import Metrics
import Synchronization
import Tracing

/// The metrics and trace of one step execution (or partition), shared by every thread that
/// commits its chunks. Made once per step execution: its metric handles are looked up once,
/// so a chunk costs a few counter increments and one timer sample, whatever its size.
///
/// Counts come from what each commit saved: the step's cumulative counts after the commit,
/// minus those after the commit before (commits of one step execution are serial). So the
/// metrics count exactly what the repository counts, retries and rolled-back chunks excluded.
public final class StepObservation: Sendable {
    public let jobName: String
    public let stepName: String
    /// The trace context of the step's span: chunk spans are its children.
    public let serviceContext: ServiceContext

    private let read: Counter
    private let readFailure: Counter
    private let processed: Counter
    private let processFailure: Counter
    private let written: Counter
    private let filtered: Counter
    private let skipWrite: Counter
    private let skipRead: Counter
    private let skipProcess: Counter
    private let chunkCommitted: Metrics.Timer
    private let chunkRolledBack: Metrics.Timer
    private let recorded = Mutex<StepCounts?>(nil)

    public init(jobName: String, stepName: String, serviceContext: ServiceContext = .topLevel) {
        self.jobName = jobName
        self.stepName = stepName
        self.serviceContext = serviceContext
        let tags = [(BatchMetricNames.jobNameTag, jobName), (BatchMetricNames.stepNameTag, stepName)]
        func status(_ value: String) -> [(String, String)] { tags + [(BatchMetricNames.statusTag, value)] }
        func phase(_ value: String) -> [(String, String)] { tags + [(BatchMetricNames.phaseTag, value)] }
        read = Counter(label: BatchMetricNames.itemRead, dimensions: status("SUCCESS"))
        readFailure = Counter(label: BatchMetricNames.itemRead, dimensions: status("FAILURE"))
        processed = Counter(label: BatchMetricNames.itemProcess, dimensions: status("SUCCESS"))
        processFailure = Counter(label: BatchMetricNames.itemProcess, dimensions: status("FAILURE"))
        written = Counter(label: BatchMetricNames.itemWrite, dimensions: tags)
        filtered = Counter(label: BatchMetricNames.itemFilter, dimensions: tags)
        skipRead = Counter(label: BatchMetricNames.itemSkip, dimensions: phase("read"))
        skipProcess = Counter(label: BatchMetricNames.itemSkip, dimensions: phase("process"))
        skipWrite = Counter(label: BatchMetricNames.itemSkip, dimensions: phase("write"))
        chunkCommitted = Metrics.Timer(label: BatchMetricNames.chunkWrite, dimensions: status("SUCCESS"))
        chunkRolledBack = Metrics.Timer(label: BatchMetricNames.chunkWrite, dimensions: status("FAILURE"))
    }

    /// The counts the step starts from (a restart's or a resumed partition's), unless a commit
    /// was already recorded: what came before this execution is not counted again.
    func start(from counts: StepCounts) {
        recorded.withLock { if $0 == nil { $0 = counts } }
    }

    /// A chunk committed, leaving the step's counts at `counts`.
    func committed(_ counts: StepCounts, took duration: Duration) {
        let delta: StepCounts = recorded.withLock { last in
            let before = last ?? StepCounts()
            last = counts
            return counts - before
        }
        chunkCommitted.record(duration: duration)
        if delta.read > 0 { read.increment(by: delta.read) }
        if delta.readSkip > 0 { readFailure.increment(by: delta.readSkip); skipRead.increment(by: delta.readSkip) }
        let processedOK = delta.read - delta.processSkip
        if processedOK > 0 { processed.increment(by: processedOK) }
        if delta.processSkip > 0 { processFailure.increment(by: delta.processSkip); skipProcess.increment(by: delta.processSkip) }
        if delta.write > 0 {
            written.increment(by: delta.write)
            ProcessActivity.itemsWritten.add(delta.write, ordering: .relaxed)
        }
        if delta.filter > 0 { filtered.increment(by: delta.filter) }
        if delta.writeSkip > 0 { skipWrite.increment(by: delta.writeSkip) }
    }

    /// A chunk's transaction rolled back (its work is counted when a retry commits it).
    func rolledBack(took duration: Duration) {
        chunkRolledBack.record(duration: duration)
    }
}

/// What this process did, for figures computed over time (items per second).
public enum ProcessActivity {
    /// Items written by every step of this process since it started.
    public static let itemsWritten = Atomic<Int64>(0)
}

extension StepCounts {
    /// Component-wise difference, never below zero.
    static func - (lhs: StepCounts, rhs: StepCounts) -> StepCounts {
        var result = StepCounts()
        result.read = max(0, lhs.read - rhs.read)
        result.write = max(0, lhs.write - rhs.write)
        result.filter = max(0, lhs.filter - rhs.filter)
        result.readSkip = max(0, lhs.readSkip - rhs.readSkip)
        result.processSkip = max(0, lhs.processSkip - rhs.processSkip)
        result.writeSkip = max(0, lhs.writeSkip - rhs.writeSkip)
        result.commit = max(0, lhs.commit - rhs.commit)
        result.rollback = max(0, lhs.rollback - rhs.rollback)
        return result
    }
}
