/// The names and tags of the metrics SwiftBatch records through swift-metrics.
///
/// Where Spring Batch has the concept, its Micrometer name and tags are used (`spring.batch.*`,
/// tags `name`, `job.name`, `step.name`, `status`); what Spring Batch lacks (the cluster) is
/// under `swiftbatch.*`. A Prometheus backend turns the dots into underscores. Everything is
/// recorded once per chunk (a counter incremented by the chunk's count, one timer sample),
/// never per item. docs/OPERATIONS.md lists them with their types.
public enum BatchMetricNames {
    // Spring Batch's names.
    /// Timer: a job execution's duration; tags `name`, `status`.
    public static let job = "spring.batch.job"
    /// Meter (a gauge): job executions running in this process; tag `name`.
    public static let jobActive = "spring.batch.job.active"
    /// Timer: a step execution's duration (the launcher's view; partitions are
    /// ``partition``); tags `name`, `job.name`, `status`.
    public static let step = "spring.batch.step"
    /// Meter: step executions running in this process; tags `name`, `job.name`.
    public static let stepActive = "spring.batch.step.active"
    /// Counter: items read, by committed chunk; tags `job.name`, `step.name`, `status`
    /// (SUCCESS; FAILURE counts read skips).
    public static let itemRead = "spring.batch.item.read"
    /// Counter: items processed; tags `job.name`, `step.name`, `status` (SUCCESS; FAILURE
    /// counts process skips).
    public static let itemProcess = "spring.batch.item.process"
    /// Timer: one chunk's transaction (read, process, write and commit); tags `job.name`,
    /// `step.name`, `status` (SUCCESS when it committed, FAILURE when it rolled back).
    public static let chunkWrite = "spring.batch.chunk.write"

    // SwiftBatch's own.
    /// Counter: items written, by committed chunk; tags `job.name`, `step.name`.
    public static let itemWrite = "swiftbatch.item.write"
    /// Counter: items filtered out by the processor; tags `job.name`, `step.name`.
    public static let itemFilter = "swiftbatch.item.filter"
    /// Counter: items skipped; tags `job.name`, `step.name`, `phase` (read, process, write).
    public static let itemSkip = "swiftbatch.item.skip"
    /// Timer: a partition's run on this worker, from its start to its end; tags `job.name`,
    /// `step.name`, `status` (completed, failed, stopped, handed back, lease lost).
    public static let partition = "swiftbatch.partition"
    /// Counter: partition claims this worker made (each is an attempt); tags `job.name`, `step.name`.
    public static let partitionAttempts = "swiftbatch.partition.attempts"
    /// Counter: partitions this worker ended FAILED; tags `job.name`, `step.name`.
    public static let partitionFailures = "swiftbatch.partition.failures"
    /// Counter: claims this worker took over from a worker whose lease ran out (attempt > 1).
    public static let partitionTakeovers = "swiftbatch.partition.takeovers"
    /// Counter: claims this worker lost (its heartbeat found another holder, or its lease
    /// ran out unrenewed).
    public static let leaseLosses = "swiftbatch.partition.lease.lost"
    /// Counter: commits the repository refused because the claim was no longer this worker's.
    public static let fencedCommits = "swiftbatch.commit.fenced"
    /// Timer: from a partition becoming ready (created, handed back or expired) to its claim.
    public static let claimWait = "swiftbatch.partition.claim.wait"
    /// Timer: one claim statement's round trip (the control loop's and a slot's own).
    public static let claimLatency = "swiftbatch.partition.claim"
    /// Timer: one chunk's COMMIT round trip.
    public static let commitLatency = "swiftbatch.chunk.commit"
    /// Gauge: worker slots running a partition or a remote chunk.
    public static let slotsBusy = "swiftbatch.worker.slots.busy"
    /// Gauge: worker slots free to claim.
    public static let slotsFree = "swiftbatch.worker.slots.free"
    /// Gauge: live workers serving the steps seen, as the repository says (worker heartbeat,
    /// launcher progress).
    public static let liveWorkers = "swiftbatch.workers.live"
    /// Gauge: items written per second by this process over the last heartbeat interval.
    public static let itemsPerSecond = "swiftbatch.worker.items_per_second"
    /// Gauge: 1 when this process is ready (connected, registered, heartbeat current), else 0.
    public static let ready = "swiftbatch.ready"

    // Tags.
    public static let nameTag = "name"
    public static let jobNameTag = "job.name"
    public static let stepNameTag = "step.name"
    public static let statusTag = "status"
    public static let phaseTag = "phase"
}
