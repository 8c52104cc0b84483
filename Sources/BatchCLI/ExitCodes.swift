import ArgumentParser
import Batch

/// The exit codes every `swiftbatch` command uses, documented in `--help` and the README.
public enum ExitCodes {
    /// The command did what was asked (a job: COMPLETED).
    public static let success = ExitCode(0)
    /// The job ran and FAILED.
    public static let failed = ExitCode(1)
    /// Bad usage or input: unknown command, option or job, malformed parameter.
    public static let usage = ExitCode(2)
    /// The job ended STOPPED.
    public static let stopped = ExitCode(3)
    /// Refused: the instance is already complete or already running.
    public static let refused = ExitCode(4)
    /// The database is unreachable, or its schema is missing or of another version.
    public static let unavailable = ExitCode(5)
    /// `launch` or `restart` was interrupted (Ctrl-C) and detached from its execution
    /// (128 + SIGINT, as shells report an interrupted command).
    public static let detached = ExitCode(130)

    /// The exit code for an execution that ended with `status`: 0 COMPLETED, 3 STOPPED, else 1.
    public static func forExecution(_ status: BatchStatus) -> ExitCode {
        switch status {
        case .completed: success
        case .stopped: stopped
        default: failed
        }
    }

    static var helpText: String {
        """
        Exit codes: 0 completed, 1 failed, 2 bad usage or input, 3 stopped, \
        4 refused (already complete or running), 5 database unreachable or schema missing, \
        130 launch detached by Ctrl-C (the execution goes on or is failed; see `\(ApplicationName.current) launch --help`).
        """
    }
}

/// A command's failure as the user should see it: one message and a documented exit code.
public struct CommandFailure: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: ExitCode

    public init(_ message: String, exitCode: ExitCode) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}
