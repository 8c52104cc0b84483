import Batch
import Logging

/// A partition's run on this worker as metrics and traces see it: its span joins the trace
/// the launcher stamped into the partition's context (``TraceCarrier``), and its chunks are
/// counted under the job's and the partitioned step's names (never the partition's, which
/// would make a time series per partition).
struct PartitionObservation {
    let run: RunObservation
    let step: StepObservation

    init(_ claimed: ClaimedPartition, context: ExecutionContext) {
        let stepName = WorkerObservation.stepName(claimed.workerStep)
        run = RunObservation.partition(
            claimed.partitionName, step: stepName, job: claimed.jobName, attempt: claimed.attempt,
            parent: TraceCarrier.extract(from: context))
        step = StepObservation(jobName: claimed.jobName, stepName: stepName, serviceContext: run.serviceContext)
    }

    /// `logger` with the partition's trace in its metadata.
    func logger(_ logger: Logger) -> Logger { TraceCarrier.logger(logger, in: run.serviceContext) }

    func end(_ status: String, success: Bool, error: (any Error)? = nil) {
        run.end(status: status, success: success, error: error)
    }
}

extension PartitionOutcome {
    /// The outcome as a metric's `status` tag: one of a few fixed words.
    var metricStatus: String {
        switch self {
        case .completed: "completed"
        case .failed: "failed"
        case .stopped: "stopped"
        case .handedBack: "handed_back"
        }
    }
}
