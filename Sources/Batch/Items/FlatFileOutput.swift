#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file side of the flat-file writers: output that truncates to its checkpoint on restart,
/// and to the last committed chunk's end on a retry, so no record is written twice.
///
/// A chunk's bytes are kept in memory and reach the file only in ``update(_:)``, just before
/// the chunk commits, then synced (one `fsync` a chunk), so a chunk that rolls back before
/// that leaves nothing in the file. When the commit itself fails after the bytes were written
/// (a deadlock, a serialization failure at COMMIT), the step retries the chunk and calls
/// ``update(_:)`` again with the context as the last commit saved it: its offset is short of
/// the file's end, and the file is cut back to it before the retry's bytes are written. A
/// crash between the sync and the commit leaves bytes past the saved offset; the next
/// ``open(_:header:)`` cuts them off.
final class FlatFileOutput {
    let path: String
    let stream: String
    private let offsetKey: String
    private var descriptor: Int32 = -1
    /// Bytes on disk, synced or about to be.
    private var written: Int64 = 0
    /// The file's length when it was opened (the header's end, or the restart offset): where a
    /// step whose context has no offset yet (no chunk committed) stands.
    private var openedLength: Int64 = 0
    /// Whether bytes were written since the last sync.
    private var needsSync = false
    /// The current chunk's output, not yet in the file.
    private var pending: [UInt8] = []
    /// The chunk `pending` belongs to. A write for another chunk before any `update` means that
    /// chunk rolled back; weak, so a new chunk allocated at a freed one's address is not taken
    /// for it.
    private weak var pendingChunk: ChunkContext?

    init(path: String, stream: String) {
        self.path = path
        self.stream = stream
        self.offsetKey = stream + ".offset"
    }

    deinit {
        if descriptor >= 0 { POSIXFile.close(descriptor) }
    }

    /// Opens the file: on a fresh start creates or empties it and writes `header`; on a
    /// restart (the context holds an offset) cuts it back to that offset.
    func open(_ context: ExecutionContext, header: [UInt8]) throws {
        close()
        pending.removeAll()
        pendingChunk = nil
        if let saved = context[offsetKey] {
            guard case .int(let offset) = saved, offset >= 0 else {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: stream,
                    message: "the saved context holds \(offsetKey) = \(saved), not a byte offset")
            }
            try reopen(truncatingTo: offset)
        } else {
            descriptor = POSIXFile.open(path, O_WRONLY | O_CREAT | O_TRUNC)
            guard descriptor >= 0 else { throw POSIXFile.error("cannot create", path: path, stream: stream) }
            written = 0
            if !header.isEmpty {
                do {
                    try writeAll(header)
                } catch {
                    close()
                    throw error
                }
            }
        }
        openedLength = written
    }

    private func reopen(truncatingTo offset: Int64) throws {
        let descriptor = POSIXFile.open(path, O_WRONLY)
        guard descriptor >= 0 else {
            if errno == ENOENT {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: stream,
                    message: "\"\(path)\" is gone, but the last run committed \(offset) bytes of it; "
                        + "restore the file, or start a new job instance")
            }
            throw POSIXFile.error("cannot open", path: path, stream: stream)
        }
        do {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else {
                throw POSIXFile.error("cannot stat", path: path, stream: stream)
            }
            guard Int64(status.st_size) >= offset else {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: stream,
                    message: "\"\(path)\" has \(status.st_size) bytes, fewer than the \(offset) the last run "
                        + "committed; it was changed since, so restore it or start a new job instance")
            }
            guard ftruncate(descriptor, off_t(offset)) == 0 else {
                throw POSIXFile.error("cannot truncate", path: path, stream: stream)
            }
            guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else {
                throw POSIXFile.error("cannot seek in", path: path, stream: stream)
            }
        } catch {
            POSIXFile.close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        written = offset
        needsSync = true  // the truncation
    }

    /// Adds bytes to `chunk`'s output; they reach the file in ``update(_:)``.
    func append(for chunk: ChunkContext, _ body: (inout [UInt8]) throws -> Void) throws {
        guard descriptor >= 0 else {
            throw ItemStreamError(code: .notOpen, stream: stream, message: "write called before open")
        }
        if pendingChunk !== chunk {
            // The previous chunk never reached update: it rolled back, and so does its output.
            pending.removeAll(keepingCapacity: true)
            pendingChunk = chunk
        }
        try body(&pending)
    }

    /// Writes and syncs the chunk's output and records the new end of the file.
    ///
    /// `context` is the step's context as the last committed chunk saved it. When the file is
    /// longer than its offset says, an earlier update's bytes never committed (the chunk rolled
    /// back after writing them, and is being retried): they are cut off first.
    func update(_ context: inout ExecutionContext) throws {
        guard descriptor >= 0 else {
            throw ItemStreamError(code: .notOpen, stream: stream, message: "update called before open")
        }
        let committed = try committedLength(in: context)
        if committed < written {
            try cut(to: committed)
        }
        if !pending.isEmpty {
            try writeAll(pending)
            pending.removeAll(keepingCapacity: true)
        }
        pendingChunk = nil
        if needsSync {
            guard fsync(descriptor) == 0 else { throw POSIXFile.error("cannot sync", path: path, stream: stream) }
            needsSync = false
        }
        context[offsetKey] = .int(written)
    }

    /// The file's length after the last committed chunk: the context's offset, or where the
    /// file stood when opened if no chunk has committed since.
    private func committedLength(in context: ExecutionContext) throws -> Int64 {
        guard let saved = context[offsetKey] else { return openedLength }
        guard case .int(let offset) = saved, offset >= 0, offset <= written else {
            throw ItemStreamError(
                code: .badCheckpoint, stream: stream,
                message: "the step's context holds \(offsetKey) = \(saved), but \"\(path)\" has \(written) bytes "
                    + "written by this run; two writers in the step share the name \"\(stream)\"? give each its own")
        }
        return offset
    }

    /// Cuts the file back to `offset` (the end of the last committed chunk).
    private func cut(to offset: Int64) throws {
        guard ftruncate(descriptor, off_t(offset)) == 0 else {
            throw POSIXFile.error("cannot truncate", path: path, stream: stream)
        }
        guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else {
            throw POSIXFile.error("cannot seek in", path: path, stream: stream)
        }
        written = offset
        needsSync = true
    }

    /// Closes the file; output of a chunk that did not reach ``update(_:)`` is dropped.
    func close() {
        if descriptor >= 0 { POSIXFile.close(descriptor) }
        descriptor = -1
        pending.removeAll()
        pendingChunk = nil
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let count = write(descriptor, raw.baseAddress! + done, raw.count - done)
                if count < 0 {
                    if errno == EINTR { continue }
                    throw POSIXFile.error("cannot write", path: path, stream: stream)
                }
                done += count
            }
        }
        written += Int64(bytes.count)
        needsSync = true
    }
}
