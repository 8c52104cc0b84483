import BatchSupport
import Logging
import Tracing

/// Carries a trace context across processes inside an ``ExecutionContext``: the launcher
/// stamps each partition's context with its step's trace (W3C `traceparent`, or whatever the
/// installed instrument injects), and the worker that runs the partition starts its span as
/// a child of it, so one trace spans the launcher and every worker.
public enum TraceCarrier {
    /// The context key the injected headers are kept under (an object of strings).
    public static let contextKey = "batch.trace"

    /// `context` with `serviceContext`'s headers added; unchanged when the instrument injects
    /// nothing (no tracer installed).
    public static func stamp(_ context: ExecutionContext, with serviceContext: ServiceContext) -> ExecutionContext {
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(serviceContext, into: &headers, using: DictionaryInjector())
        guard !headers.isEmpty else { return context }
        var stamped = context
        stamped[contextKey] = .object(headers.mapValues { .string($0) })
        return stamped
    }

    /// The trace context stamped into `context`, or a top-level one.
    public static func extract(from context: ExecutionContext) -> ServiceContext {
        var serviceContext = ServiceContext.topLevel
        guard case .object(let values)? = context[contextKey] else { return serviceContext }
        var headers: [String: String] = [:]
        for (key, value) in values { if case .string(let text) = value { headers[key] = text } }
        InstrumentationSystem.instrument.extract(headers, into: &serviceContext, using: DictionaryExtractor())
        return serviceContext
    }

    /// `logger` with the trace of `serviceContext` in its metadata (`batch.trace`: the W3C
    /// `traceparent` when the instrument injects one), so log lines can be joined to spans.
    public static func logger(_ logger: Logger, in serviceContext: ServiceContext) -> Logger {
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(serviceContext, into: &headers, using: DictionaryInjector())
        guard let parent = headers["traceparent"] ?? headers.values.first else { return logger }
        var logger = logger
        logger[metadataKey: "batch.trace"] = "\(parent)"
        return logger
    }
}

/// Writes injected headers into a dictionary.
public struct DictionaryInjector: Injector {
    public init() {}
    public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads headers to extract from a dictionary.
public struct DictionaryExtractor: Extractor {
    public init() {}
    public func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
