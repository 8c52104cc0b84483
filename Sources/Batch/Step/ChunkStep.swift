/// A chunk-oriented step: read up to `commitInterval` items, process them, write the results,
/// and commit output, checkpoint and counts in one transaction; repeat until the reader is
/// exhausted.
///
/// Generic over its reader, processor and writer, so the per-item loop is specialised: no
/// existential or dictionary work per item.
public struct ChunkStep<Reader: ItemReader, Processor: ItemProcessor, Writer: ItemWriter>: Step
where Processor.Input == Reader.Item, Processor.Output == Writer.Item {
    public let name: String
    public let commitInterval: Int
    public let allowStartIfComplete: Bool
    private let makeComponents: @Sendable (StepScope) throws -> (Reader, Processor, Writer)

    /// - Parameters:
    ///   - commitInterval: items per chunk (per transaction).
    ///   - components: builds the reader, processor and writer for one execution; they are
    ///     made fresh on every run and opened with the step's saved context.
    public init(
        _ name: String, commitInterval: Int, allowStartIfComplete: Bool = false,
        components: @escaping @Sendable (StepScope) throws -> (Reader, Processor, Writer)
    ) {
        precondition(commitInterval > 0, "commit interval must be positive")
        self.name = name
        self.commitInterval = commitInterval
        self.allowStartIfComplete = allowStartIfComplete
        self.makeComponents = components
    }

    public func run(_ execution: inout StepExecution, in scope: StepScope) throws {
        let (reader, processor, writer) = try makeComponents(scope)
        try reader.open(execution.context)
        defer { try? reader.close() }
        let writerIsReader = (writer as AnyObject) === (reader as AnyObject)
        if !writerIsReader { try writer.open(execution.context) }
        defer { if !writerIsReader { try? writer.close() } }

        var items: [Reader.Item] = []
        var outputs: [Writer.Item] = []
        items.reserveCapacity(commitInterval)
        outputs.reserveCapacity(commitInterval)
        var exhausted = false
        while !exhausted {
            let (_, jobStatus) = try scope.session.inChunkTransaction(&execution) { transaction, working in
                let chunk = ChunkContext(
                    transaction: transaction, stepName: working.stepName,
                    parameters: scope.parameters, stepContext: working.context)
                items.removeAll(keepingCapacity: true)
                outputs.removeAll(keepingCapacity: true)
                while items.count < commitInterval {
                    guard let item = try reader.read(in: chunk) else {
                        exhausted = true
                        break
                    }
                    items.append(item)
                }
                for item in items {
                    if let output = try processor.process(item) {
                        outputs.append(output)
                    }
                }
                if !outputs.isEmpty {
                    try writer.write(outputs, in: chunk)
                }
                var context = working.context
                try reader.update(&context)
                if !writerIsReader { try writer.update(&context) }
                working.context = context
                working.counts.read += Int64(items.count)
                working.counts.filter += Int64(items.count - outputs.count)
                working.counts.write += Int64(outputs.count)
                working.counts.commit += 1
            }
            if jobStatus == .stopping && !exhausted {
                execution.status = .stopped
                execution.exitStatus = .stopped.adding(
                    description: "stopped by request after \(execution.counts.read) items")
                return
            }
        }
        execution.status = .completed
        execution.exitStatus = .completed
    }
}

/// A processor that hands items on unchanged, for steps without processing.
public struct PassThroughProcessor<Item>: ItemProcessor {
    public init() {}
    public func process(_ item: Item) -> Item? { item }
}

extension ChunkStep where Processor == PassThroughProcessor<Reader.Item>, Reader: SendableMetatype, Writer: SendableMetatype {
    /// A chunk step without a processor.
    public init(
        _ name: String, commitInterval: Int, allowStartIfComplete: Bool = false,
        components: @escaping @Sendable (StepScope) throws -> (Reader, Writer)
    ) {
        self.init(name, commitInterval: commitInterval, allowStartIfComplete: allowStartIfComplete) { scope in
            let (reader, writer) = try components(scope)
            return (reader, PassThroughProcessor(), writer)
        }
    }
}
