import Foundation
import Metrics
import Tracing

/// A job, step or partition run as metrics and a span see it: started when the run starts,
/// ended with its status. The span's context is the parent of what runs inside.
public struct RunObservation: Sendable {
    private let span: any Span
    private let timerLabel: String
    private let dimensions: [(String, String)]
    private let active: Meter?
    private let started: ContinuousClock.Instant

    /// The context of this run's span: pass it to what runs inside (steps, chunks).
    public var serviceContext: ServiceContext { span.context }

    private init(span: any Span, timer: String, dimensions: [(String, String)], active: String?) {
        self.span = span
        self.timerLabel = timer
        self.dimensions = dimensions
        self.active = active.map { Meter(label: $0, dimensions: dimensions) }
        self.active?.increment()
        self.started = ContinuousClock.now
    }

    /// A job execution: span `job <name>`, timer `spring.batch.job`, meter `spring.batch.job.active`.
    public static func job(_ name: String, executionID: Int64, parent: ServiceContext) -> RunObservation {
        let span = InstrumentationSystem.tracer.startSpan("job \(name)", context: parent)
        span.attributes["batch.job.name"] = name
        span.attributes["batch.job.execution_id"] = executionID
        return RunObservation(
            span: span, timer: BatchMetricNames.job, dimensions: [(BatchMetricNames.nameTag, name)],
            active: BatchMetricNames.jobActive)
    }

    /// A step execution: span `step <name>`, timer `spring.batch.step`, meter `spring.batch.step.active`.
    public static func step(_ name: String, job: String, executionID: Int64, parent: ServiceContext) -> RunObservation {
        let span = InstrumentationSystem.tracer.startSpan("step \(name)", context: parent)
        span.attributes["batch.job.name"] = job
        span.attributes["batch.step.name"] = name
        span.attributes["batch.step.execution_id"] = executionID
        return RunObservation(
            span: span, timer: BatchMetricNames.step,
            dimensions: [(BatchMetricNames.nameTag, name), (BatchMetricNames.jobNameTag, job)],
            active: BatchMetricNames.stepActive)
    }

    /// A partition run by a worker: span `partition <step>:<partition>` (a child of the
    /// launcher's step, across processes), timer `swiftbatch.partition`.
    public static func partition(
        _ partitionName: String, step: String, job: String, attempt: Int, parent: ServiceContext
    ) -> RunObservation {
        let span = InstrumentationSystem.tracer.startSpan("partition \(step):\(partitionName)", context: parent, ofKind: .consumer)
        span.attributes["batch.job.name"] = job
        span.attributes["batch.step.name"] = step
        span.attributes["batch.partition.name"] = partitionName
        span.attributes["batch.partition.attempt"] = attempt
        return RunObservation(
            span: span, timer: BatchMetricNames.partition,
            dimensions: [(BatchMetricNames.jobNameTag, job), (BatchMetricNames.stepNameTag, step)], active: nil)
    }

    /// Ends the run: the timer gets a sample tagged with `status`, the span ends (in error
    /// unless the status is a success).
    public func end(status: String, success: Bool, error: (any Error)? = nil) {
        Metrics.Timer(label: timerLabel, dimensions: dimensions + [(BatchMetricNames.statusTag, status)])
            .record(duration: started.duration(to: .now))
        active?.decrement()
        span.attributes["batch.status"] = status
        if let error { span.recordError(error) }
        if !success { span.setStatus(SpanStatus(code: .error, message: status)) }
        span.end()
    }
}
