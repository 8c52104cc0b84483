import Foundation
import Synchronization
import Tracing

/// A tracer that keeps every ended span in memory and propagates as W3C `traceparent`
/// (`00-<trace>-<span>-01`), so a test can see one trace cross the repository.
final class TinyTracer: Tracer, Sendable {
    struct Recorded: Sendable, Equatable {
        var name: String
        var traceID: String
        var spanID: String
        var parentID: String?
    }

    /// The trace and span ids a span puts in the context of what runs inside it.
    enum IDsKey: ServiceContextKey {
        typealias Value = (trace: String, span: String)
    }

    private let ended = Mutex<[Recorded]>([])

    var spans: [Recorded] { ended.withLock { $0 } }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> TinySpan {
        let parent = context()
        let trace = parent[IDsKey.self]?.trace ?? Self.hex(16)
        var own = parent
        own[IDsKey.self] = (trace, Self.hex(8))
        return TinySpan(name: operationName, context: own, parentID: parent[IDsKey.self]?.span) { [self] recorded in
            self.ended.withLock { $0.append(recorded) }
        }
    }

    func activeSpan(identifiedBy context: ServiceContext) -> TinySpan? { nil }

    func forceFlush() {}

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let ids = context[IDsKey.self] else { return }
        injector.inject("00-\(ids.trace)-\(ids.span)-01", forKey: "traceparent", into: &carrier)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier) else { return }
        let parts = value.split(separator: "-")
        guard parts.count == 4 else { return }
        context[IDsKey.self] = (String(parts[1]), String(parts[2]))
    }

    private static func hex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

final class TinySpan: Span, Sendable {
    let context: ServiceContext
    private let state: Mutex<(name: String, attributes: SpanAttributes)>
    private let parentID: String?
    private let onEnd: @Sendable (TinyTracer.Recorded) -> Void

    init(name: String, context: ServiceContext, parentID: String?, onEnd: @escaping @Sendable (TinyTracer.Recorded) -> Void) {
        self.context = context
        self.state = Mutex((name, [:]))
        self.parentID = parentID
        self.onEnd = onEnd
    }

    var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    var isRecording: Bool { true }
    func setStatus(_ status: SpanStatus) {}
    func addEvent(_ event: SpanEvent) {}
    func addLink(_ link: SpanLink) {}
    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {}

    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let ids = context[TinyTracer.IDsKey.self] else { return }
        onEnd(TinyTracer.Recorded(name: operationName, traceID: ids.trace, spanID: ids.span, parentID: parentID))
    }
}
