#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds where one record of a flat file ends, for ``BufferedFileReader/nextRecord(_:limit:)``.
protocol RecordScanner {
    /// Forgets any record scanned so far.
    mutating func reset()
    /// Looks for the end of the record that starts at `bytes[0]`; `bytes[..<from]` were scanned
    /// by an earlier call (the record did not end there).
    ///
    /// - Returns: the end of the record's content and the end of the record with its
    ///   terminator, or nil when the record goes on past the end of `bytes`.
    mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> (content: Int, end: Int)?
}

/// Reads a file with `read(2)` through one buffer, a record at a time, keeping the exact file
/// offset of the next unread byte (the restart position).
///
/// Not thread-safe; a reader uses it from one thread at a time.
final class BufferedFileReader {
    let path: String
    private let stream: String
    private var descriptor: Int32
    private var storage: UnsafeMutableBufferPointer<UInt8>
    /// Read but not yet consumed bytes are `storage[start..<end]`.
    private var start = 0
    private var end = 0
    /// The file offset of `storage[0]`.
    private var storageOffset: Int64 = 0
    private var reachedEnd = false

    /// Opens `path` for reading.
    ///
    /// - Parameter stream: the reader's name, for errors.
    init(path: String, stream: String, capacity: Int = 64 * 1024) throws {
        self.path = path
        self.stream = stream
        let descriptor = POSIXFile.open(path, O_RDONLY)
        guard descriptor >= 0 else { throw POSIXFile.error("cannot open", path: path, stream: stream) }
        self.descriptor = descriptor
        storage = .allocate(capacity: capacity)
    }

    deinit {
        close()
        storage.deallocate()
    }

    /// The file offset of the next record (the first byte not yet handed out).
    var offset: Int64 { storageOffset + Int64(start) }

    /// Seeks to the position a checkpoint saved (`offsetKey`, a byte offset of the next record)
    /// and returns the line count saved with it (`lineKey`); with no checkpoint, stays put and
    /// returns nil. Shared by the flat-file readers so their restarts behave alike.
    ///
    /// - Throws: ``ItemStreamError`` `.badCheckpoint` when the offset is not an integer or does not
    ///   fit the file (it changed since the last run).
    func resume(from context: ExecutionContext, offsetKey: String, lineKey: String) throws -> Int? {
        guard let saved = context[offsetKey] else { return nil }
        guard case .int(let target) = saved else {
            throw ItemStreamError(
                code: .badCheckpoint, stream: stream,
                message: "the saved context holds \(offsetKey) = \(saved), not a byte offset")
        }
        let size = try size()
        guard target >= offset, target <= size else {
            throw ItemStreamError(
                code: .badCheckpoint, stream: stream,
                message: "the saved offset \(target) does not fit \"\(path)\" (\(size) bytes, records from "
                    + "\(offset)); the file was changed since the last run, so restore it or start a new job instance")
        }
        try seek(to: target)
        return context.int(lineKey).map { Int($0) } ?? 0
    }

    func close() {
        if descriptor >= 0 { POSIXFile.close(descriptor) }
        descriptor = -1
    }

    /// The file's current size in bytes.
    func size() throws -> Int64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("cannot stat") }
        return Int64(status.st_size)
    }

    /// Moves to `offset`, dropping what is buffered.
    func seek(to offset: Int64) throws {
        guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else { throw failure("cannot seek in") }
        storageOffset = offset
        start = 0
        end = 0
        reachedEnd = false
    }

    /// Consumes a UTF-8 byte order mark at the current position, if there is one.
    func skipByteOrderMark() throws {
        while end - start < 3, try fill() {}
        if end - start >= 3, storage[start] == 0xEF, storage[start + 1] == 0xBB, storage[start + 2] == 0xBF {
            start += 3
        }
    }

    /// Hands out the next record, as `scanner` delimits it, and moves past it.
    ///
    /// A record cut short by the end of the file (no terminator) is handed out whole; the caller
    /// asks its scanner whether it is complete.
    ///
    /// - Parameter limit: the most bytes a record may hold. A longer one throws
    ///   ``RecordTooLong`` once the reader is past it; one still unfinished after `limit` bytes
    ///   is never buffered whole: the reader moves past the line feed that follows them.
    /// - Returns: the record's content without its terminator, valid until the next call; nil
    ///   at the end of the file.
    func nextRecord<Scanner: RecordScanner>(_ scanner: inout Scanner, limit: Int) throws -> UnsafeBufferPointer<UInt8>? {
        scanner.reset()
        var scanned = 0
        while true {
            let pending = UnsafeBufferPointer(rebasing: storage[start..<end])
            if let found = scanner.scan(pending, from: scanned) {
                let record = UnsafeBufferPointer(rebasing: pending[..<found.content])
                start += found.end
                if record.count > limit {
                    throw RecordTooLong(record, lineFeeds: Self.lineFeeds(in: pending[..<found.end]))
                }
                return record
            }
            if pending.count > limit {
                let opening = RecordTooLong(pending, lineFeeds: 0)
                let skipped = try skipPastLineFeed()
                throw RecordTooLong(opening: opening.opening, lineFeeds: skipped ? 1 : 0)
            }
            scanned = pending.count
            guard try fill() else {
                if start == end { return nil }
                let record = UnsafeBufferPointer(rebasing: storage[start..<end])
                start = end
                if record.count > limit { throw RecordTooLong(record, lineFeeds: Self.lineFeeds(in: record[...])) }
                return record
            }
        }
    }

    /// Drops what is buffered and reads on, without buffering, to just past the next line feed
    /// (or the end of the file: returns false).
    private func skipPastLineFeed() throws -> Bool {
        while true {
            if let base = storage.baseAddress, start < end, let found = memchr(base + start, 0x0A, end - start) {
                start = UnsafeMutableRawPointer(found) - UnsafeMutableRawPointer(base) + 1
                return true
            }
            start = end
            guard try fill() else { return false }
        }
    }

    private static func lineFeeds(in bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Int {
        bytes.count(where: { $0 == 0x0A })
    }

    /// Reads more bytes after `end`, first moving the unconsumed ones to the front (or growing
    /// the buffer when they fill it). Returns false at the end of the file.
    private func fill() throws -> Bool {
        if reachedEnd { return false }
        if start > 0 {
            let count = end - start
            if count > 0, let base = storage.baseAddress {
                memmove(base, base + start, count)
            }
            storageOffset += Int64(start)
            start = 0
            end = count
        }
        if end == storage.count {
            let larger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: storage.count * 2)
            _ = larger.initialize(from: storage)
            storage.deallocate()
            storage = larger
        }
        while true {
            let count = read(descriptor, storage.baseAddress! + end, storage.count - end)
            if count > 0 {
                end += count
                return true
            }
            if count == 0 {
                reachedEnd = true
                return false
            }
            if errno != EINTR { throw failure("cannot read") }
        }
    }

    private func failure(_ what: String) -> ItemStreamError {
        POSIXFile.error(what, path: path, stream: stream)
    }
}

/// A record longer than its reader's limit; the file is already past it (past the line feed
/// that follows its first `limit` bytes).
struct RecordTooLong: Error {
    /// The record's first bytes, for the error's raw text.
    let opening: [UInt8]
    /// The line feeds the reader moved past with it (inside it and its terminator).
    let lineFeeds: Int

    init(opening: [UInt8], lineFeeds: Int) {
        self.opening = opening
        self.lineFeeds = lineFeeds
    }

    init(_ record: UnsafeBufferPointer<UInt8>, lineFeeds: Int) {
        self.init(opening: Array(record.prefix(FlatFileParseError.rawTextLimit * 4)), lineFeeds: lineFeeds)
    }
}

/// Delimits records that are single lines ending in LF (a CR before it is dropped).
struct LineScanner: RecordScanner {
    mutating func reset() {}

    func scan(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> (content: Int, end: Int)? {
        guard from < bytes.count, let base = bytes.baseAddress,
            let found = memchr(base + from, 0x0A, bytes.count - from)
        else { return nil }
        let newline = UnsafeRawPointer(found) - UnsafeRawPointer(base)
        let content = newline > 0 && bytes[newline - 1] == 0x0D ? newline - 1 : newline
        return (content, newline + 1)
    }
}
