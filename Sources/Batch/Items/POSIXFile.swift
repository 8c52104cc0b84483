#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few system calls the flat-file readers and writers make, under names that do not clash
/// with `ItemStream.open(_:)` and `close()`.
enum POSIXFile {
    /// Opens `path`, retrying on EINTR; returns the descriptor or -1 with `errno` set.
    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) -> Int32 {
        while true {
            let descriptor = systemOpen(path, flags | O_CLOEXEC, mode)
            if descriptor >= 0 || errno != EINTR { return descriptor }
        }
    }

    static func close(_ descriptor: Int32) {
        _ = systemClose(descriptor)
    }

    /// An ``ItemStreamError`` for the failed call that set `errno`: `"<what> \"<path>\": <reason>"`.
    static func error(_ what: String, path: String, stream: String) -> ItemStreamError {
        let code = errno
        return ItemStreamError(
            code: .fileSystem, stream: stream,
            message: "\(what) \"\(path)\": \(String(cString: strerror(code)))", errno: code)
    }
}

private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}

private func systemClose(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}
