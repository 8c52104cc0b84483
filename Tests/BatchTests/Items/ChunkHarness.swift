import Batch
import Foundation

/// The transaction of a step without a database.
final class NoTransaction: StepTransaction {}

/// Drives a reader and a writer chunk by chunk the way the step engine does, keeping the
/// context of the last committed chunk as the repository would.
enum ChunkHarness {
    /// The failure a test injects.
    struct Crash: Error {}

    enum Failure {
        /// In chunk n, after the writer's update (its output is on disk) but before the commit.
        case afterUpdate(chunk: Int)
        /// In chunk n, after the write but before any update.
        case afterWrite(chunk: Int)
    }

    /// Runs until the reader is exhausted, `failure` strikes, or `stopAfter` chunks committed.
    ///
    /// - Returns: true when the reader was exhausted.
    @discardableResult
    static func run<Reader: ItemReader, Writer: ItemWriter>(
        _ reader: Reader, _ writer: Writer, commitInterval: Int, saved: inout ExecutionContext,
        failure: Failure? = nil, stopAfter: Int? = nil,
        process: (Reader.Item) throws -> Writer.Item
    ) throws -> Bool {
        try reader.open(saved)
        try writer.open(saved)
        defer {
            try? reader.close()
            try? writer.close()
        }
        var number = 0
        while true {
            number += 1
            let chunk = ChunkContext(
                transaction: NoTransaction(), stepName: "test", parameters: JobParameters(), stepContext: saved)
            var items: [Writer.Item] = []
            var exhausted = false
            while items.count < commitInterval {
                guard let item = try reader.read(in: chunk) else {
                    exhausted = true
                    break
                }
                items.append(try process(item))
            }
            if !items.isEmpty { try writer.write(items, in: chunk) }
            if case .afterWrite(number) = failure { throw Crash() }
            var context = saved
            try reader.update(&context)
            try writer.update(&context)
            if case .afterUpdate(number) = failure { throw Crash() }
            saved = context
            if exhausted { return true }
            if let stopAfter, number >= stopAfter { return false }
        }
    }

    /// A chunk context for calling a reader or writer directly.
    static func chunk() -> ChunkContext {
        ChunkContext(transaction: NoTransaction(), stepName: "test", parameters: JobParameters(), stepContext: [:])
    }

    /// Reads everything the reader has left.
    static func readAll<Reader: ItemReader>(_ reader: Reader) throws -> [Reader.Item] {
        let chunk = chunk()
        var items: [Reader.Item] = []
        while let item = try reader.read(in: chunk) { items.append(item) }
        return items
    }
}

/// A temporary directory, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) throws -> Result) throws -> Result {
    let path = NSTemporaryDirectory() + "swiftbatch-items-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

func writeFile(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func writeFile(_ path: String, bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readFile(_ path: String) throws -> String {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
}
