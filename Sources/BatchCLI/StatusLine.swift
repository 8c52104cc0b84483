import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Standard error, shared by log lines and the progress line so they never garble each other:
/// a log line first clears a drawn progress line, which is drawn again below it, and all of it
/// happens under one lock.
final class StatusLine: Sendable {
    static let shared = StatusLine()

    private struct State {
        var drawn = false
        var muted = false
        /// The drawn line, with its `\r` and clear-line prefix.
        var text = ""
    }

    private let state = Mutex(State())

    static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Redraws the one progress line (`\r`, clear line, text cut to the terminal's width).
    func draw(_ text: String) {
        state.withLock { state in
            guard !state.muted else { return }
            state.text = "\r\u{1B}[2K" + Self.fitted(text)
            Self.write(state.text)
            state.drawn = true
        }
    }

    /// Writes a whole line, clearing a drawn progress line first.
    func printLine(_ text: String) {
        state.withLock { state in
            Self.write((state.drawn ? "\r\u{1B}[2K" : "") + text + "\n")
            state.drawn = false
        }
    }

    /// Clears a drawn progress line.
    func clear() {
        state.withLock { state in
            if state.drawn { Self.write("\r\u{1B}[2K") }
            state.drawn = false
        }
    }

    /// Runs `log` (which writes a log line) with the progress line cleared, then draws the
    /// progress line again below it; nothing when muted.
    func aroundLog(_ log: () -> Void) {
        state.withLock { state in
            guard !state.muted else { return }
            if state.drawn { Self.write("\r\u{1B}[2K") }
            log()
            if state.drawn { Self.write(state.text) }
        }
    }

    /// From now on log lines and progress are dropped (a detaching launcher): only
    /// ``printLine(_:)`` writes.
    func mute() {
        state.withLock { state in
            if state.drawn { Self.write("\r\u{1B}[2K") }
            state.drawn = false
            state.muted = true
        }
    }

    private static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 {
                if written < 0 && errno == EINTR { continue }
                return
            }
            offset += written
        }
        bytes.removeAll()
    }

    private static func fitted(_ text: String) -> String {
        var size = winsize()
        let columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 120
        return text.count < columns ? text : String(text.prefix(max(columns - 1, 1)))
    }
}

/// A log handler that writes through ``StatusLine`` (so a progress line is cleared first).
struct StatusLineLogHandler: LogHandler {
    var inner: StreamLogHandler

    func log(event: LogEvent) {
        StatusLine.shared.aroundLog { inner.log(event: event) }
    }

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
}
