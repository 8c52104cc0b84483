import Batch
import Foundation
import Metrics
import Synchronization

/// A worker's own metrics (claims, slots, leases, fencing, throughput) and the state its
/// health probe reads. The control loop and the slots report to it in one-line calls; nothing
/// here does I/O.
final class WorkerObservation: Sendable {
    private struct State {
        var connected = false
        var registered = false
        var lastHeartbeat: ContinuousClock.Instant?
        var rateFrom: (at: ContinuousClock.Instant, written: Int64)?
    }

    private let state = Mutex(State())
    private let lease: Duration
    private let claimLatency = Metrics.Timer(label: BatchMetricNames.claimLatency)
    private let claimWait = Metrics.Timer(label: BatchMetricNames.claimWait)
    private let slotsBusy = Gauge(label: BatchMetricNames.slotsBusy)
    private let slotsFree = Gauge(label: BatchMetricNames.slotsFree)
    private let leaseLosses = Counter(label: BatchMetricNames.leaseLosses)
    private let takeovers = Counter(label: BatchMetricNames.partitionTakeovers)
    private let fenced = Counter(label: BatchMetricNames.fencedCommits)
    private let liveWorkers = Gauge(label: BatchMetricNames.liveWorkers)
    private let itemsPerSecond = Gauge(label: BatchMetricNames.itemsPerSecond)
    private let ready = Gauge(label: BatchMetricNames.ready)

    init(lease: Duration, concurrency: Int) {
        self.lease = lease
        slotsBusy.record(0)
        slotsFree.record(concurrency)
        ready.record(0)
    }

    // MARK: Health

    func connected() { state.withLock { $0.connected = true } }

    func registered() { state.withLock { $0.registered = true } }

    /// The control connection failed: not ready until it is back and registered again.
    func disconnected() {
        state.withLock {
            $0.connected = false
            $0.registered = false
        }
        ready.record(0)
    }

    /// A heartbeat succeeded; `liveWorkers` is what the repository counts as live now.
    func heartbeat(liveWorkers live: Int?) {
        let now = ContinuousClock.now
        let written = ProcessActivity.itemsWritten.load(ordering: .relaxed)
        let rate: Double? = state.withLock { state in
            state.lastHeartbeat = now
            defer { state.rateFrom = (now, written) }
            guard let from = state.rateFrom else { return nil }
            let seconds = Double(from.at.duration(to: now).components.seconds)
                + Double(from.at.duration(to: now).components.attoseconds) / 1e18
            return seconds > 0 ? Double(written - from.written) / seconds : nil
        }
        if let rate { itemsPerSecond.record(rate) }
        if let live { liveWorkers.record(live) }
        ready.record(health(shuttingDown: false).isReady ? 1 : 0)
    }

    func health(shuttingDown: Bool) -> WorkerHealth {
        let now = ContinuousClock.now
        return state.withLock { state in
            var health = WorkerHealth(heartbeatLimit: lease)
            health.connected = state.connected
            health.registered = state.registered
            health.heartbeatAge = state.lastHeartbeat.map { $0.duration(to: now) }
            health.shuttingDown = shuttingDown
            return health
        }
    }

    // MARK: Claims, slots, leases

    /// A claim statement returned `claimed` after `took` (nil: claimed by the statement that
    /// ended the slot's last partition, timed as its commit).
    func claimed(_ claimed: [ClaimedPartition], took: Duration?) {
        if let took { claimLatency.record(duration: took) }
        let now = Date()
        for partition in claimed {
            let tags = [(BatchMetricNames.jobNameTag, partition.jobName), (BatchMetricNames.stepNameTag, Self.stepName(partition.workerStep))]
            Counter(label: BatchMetricNames.partitionAttempts, dimensions: tags).increment()
            // Handing back does not count an attempt: a second one means an earlier holder died
            // or lost its lease.
            if partition.attempt > 1 { takeovers.increment() }
            // When it became claimable: created, handed back or last saved (a dead holder's
            // last commit), by the repository's record (the writers' clocks).
            if let since = partition.execution.lastUpdated ?? Optional(partition.execution.createTime) {
                claimWait.record(duration: .milliseconds(Int64(max(0, now.timeIntervalSince(since)) * 1000)))
            }
        }
    }

    func slots(busy: Int, free: Int) {
        slotsBusy.record(busy)
        slotsFree.record(free)
    }

    /// Claims found lost (by the heartbeat or the watchdog).
    func lost(_ count: Int) {
        if count > 0 { leaseLosses.increment(by: count) }
    }

    /// A commit refused by the fence.
    func fencedCommit() { fenced.increment() }

    /// A partition ended FAILED on this worker.
    func failed(_ claimed: ClaimedPartition) {
        Counter(label: BatchMetricNames.partitionFailures, dimensions: [
            (BatchMetricNames.jobNameTag, claimed.jobName), (BatchMetricNames.stepNameTag, Self.stepName(claimed.workerStep)),
        ]).increment()
    }

    /// `job/step` → `step`: metrics are tagged with the job and the step apart.
    static func stepName(_ workerStep: String) -> String {
        workerStep.split(separator: "/", maxSplits: 1).last.map(String.init) ?? workerStep
    }
}
