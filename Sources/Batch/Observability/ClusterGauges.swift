import Metrics

/// Gauges of the cluster as a launcher awaiting partitions sees it.
enum ClusterGauges {
    /// Records a partitioned step's progress: live workers and partitions by state.
    static func awaited(_ progress: PartitionProgress) {
        Gauge(label: BatchMetricNames.liveWorkers).record(progress.liveWorkers)
        Gauge(label: "swiftbatch.partitions", dimensions: [("state", "running")]).record(progress.running)
        Gauge(label: "swiftbatch.partitions", dimensions: [("state", "finished")]).record(progress.finished)
        Gauge(label: "swiftbatch.partitions", dimensions: [("state", "failed")]).record(progress.failed)
        Gauge(label: "swiftbatch.partitions", dimensions: [("state", "total")]).record(progress.total)
    }
}

extension Partition {
    /// This partition with `observation`'s trace stamped into its context (``TraceCarrier``).
    func traced(in observation: StepObservation) -> Partition {
        Partition(name: name, context: TraceCarrier.stamp(context, with: observation.serviceContext))
    }
}
