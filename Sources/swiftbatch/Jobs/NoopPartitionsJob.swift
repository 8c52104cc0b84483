import Batch

/// `noop-partitions partitions=N`: N partitions that each do nothing, to measure what the
/// cluster's coordination costs (claims, leases, completion, awaiting).
enum NoopPartitionsJob {
    static let job = Job(
        "noop-partitions",
        summary: "N partitions of a do-nothing tasklet: the cost of coordination alone.",
        parameters: [.required("partitions", .long, help: "how many partitions")]
    ) {
        PartitionStep(
            "noop", partitioner: CountPartitioner(countParameter: "partitions"),
            workerStep: TaskletStep("noop") { _, _ in .finished })
    }

    /// `noop`: one do-nothing tasklet, so a launch measures what launching itself costs.
    static let empty = Job("noop", summary: "One do-nothing tasklet: what a launch itself costs.") {
        TaskletStep("noop") { _, _ in .finished }
    }
}
