/// Processing and writing a chunk's items under a skip policy: the same rules for every kind of
/// chunk step (local, multi-threaded, remote).
enum ChunkItems {
    /// Processes `items` in order (all at once when the processor can, its results then taken in
    /// the items' order), appending the outputs; an item whose processing throws goes to
    /// `failed`, which skips it or throws.
    ///
    /// - Returns: how many items the processor filtered out.
    static func process<Processor: ItemProcessor>(
        _ items: [Processor.Input], with processor: Processor, into outputs: inout [Processor.Output],
        failed: (Processor.Input, any Error) throws -> Void
    ) throws -> Int {
        var filtered = 0
        let processed = processor.processChunk(items)
        for (position, item) in items.enumerated() {
            do {
                if let output = try processed.map({ try $0[position].get() }) ?? processor.process(item) {
                    outputs.append(output)
                } else {
                    filtered += 1
                }
            } catch {
                try failed(item, error)
            }
        }
        return filtered
    }

    /// Writes `outputs` in `context`'s transaction. With a skip policy (a limit above 0), a write
    /// that fails with a skippable error is redone item by item, each under its own savepoint,
    /// and each item that fails again goes to `skip`, which records it or throws.
    ///
    /// - Returns: how many outputs were written.
    static func write<Writer: ItemWriter>(
        _ outputs: [Writer.Item], with writer: Writer, in context: ChunkContext, policy: SkipPolicy,
        skip: (Writer.Item, any Error) throws -> Void
    ) throws -> Int {
        guard !outputs.isEmpty else { return 0 }
        guard policy.limit > 0 else {
            try writer.write(outputs, in: context)
            return outputs.count
        }
        do {
            try context.transaction.withSavepoint { try writer.write(outputs, in: context) }
            return outputs.count
        } catch where policy.isSkippable(error) {
            var written = 0
            for output in outputs {
                do {
                    try context.transaction.withSavepoint { try writer.write([output], in: context) }
                    written += 1
                } catch where policy.isSkippable(error) {
                    try skip(output, error)
                }
            }
            return written
        }
    }
}
