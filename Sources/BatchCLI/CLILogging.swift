import Batch
import Foundation
import Logging

/// Logging for the command line: structured lines on standard error (shared with the progress
/// line, see ``StatusLine``).
enum CLILogging {
    /// The level comes from SWIFTBATCH_LOG_LEVEL (trace, debug, info, notice, warning, error);
    /// default `notice`, so a launch prints its report and little else.
    static let logger: Logger = {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let name = ProcessInfo.processInfo.environment["SWIFTBATCH_LOG_LEVEL"] ?? "notice"
            handler.logLevel = Logger.Level(rawValue: name) ?? .notice
            // Through the status line, so a progress line is cleared before each log line.
            return StatusLineLogHandler(inner: handler)
        }
        return Logger(label: ApplicationName.current)
    }()
}
