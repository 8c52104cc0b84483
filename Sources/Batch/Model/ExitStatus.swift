/// How a job or step execution ended, as a code scripts can branch on plus a free-text description.
///
/// Unlike ``BatchStatus``, which the framework owns, the exit code is open: a step may end with
/// `COMPLETED WITH SKIPS` or any code of its own, and flows can route on it. The predefined codes
/// are the constants below. Values are immutable; the methods return new values.
public struct ExitStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The code, e.g. `COMPLETED`, `FAILED` or a custom one. Stored in `exit_code`.
    public let exitCode: String
    /// A human-readable explanation, possibly long (an error and its context). Stored in
    /// `exit_message`, cut to ``maxStoredDescriptionLength``.
    public let exitDescription: String

    /// Creates an exit status.
    ///
    /// - Parameters:
    ///   - exitCode: The code; custom codes are allowed and rank above all predefined ones.
    ///   - exitDescription: An explanation; empty by default.
    public init(exitCode: String, exitDescription: String = "") {
        self.exitCode = exitCode
        self.exitDescription = exitDescription
    }

    /// Unknown state, assumed not continuable (the process may have died mid-update).
    public static let unknown = ExitStatus(exitCode: "UNKNOWN")
    /// Still processing, typically elsewhere (another process or host).
    public static let executing = ExitStatus(exitCode: "EXECUTING")
    /// Finished processing.
    public static let completed = ExitStatus(exitCode: "COMPLETED")
    /// Did no processing, e.g. because the work was already complete.
    public static let noop = ExitStatus(exitCode: "NOOP")
    /// Finished processing with an error.
    public static let failed = ExitStatus(exitCode: "FAILED")
    /// Finished processing because a stop was requested.
    public static let stopped = ExitStatus(exitCode: "STOPPED")

    /// The most characters of ``exitDescription`` the repository keeps (`exit_message` is a
    /// `VARCHAR(2500)`, as in Spring Batch).
    public static let maxStoredDescriptionLength = String.storageColumnLimit

    /// How bad the code is, from 1 (EXECUTING) to 7 (a custom code), as Spring Batch ranks it.
    ///
    /// A code ranks by the predefined code it *starts with*, so `COMPLETED WITH SKIPS` ranks as
    /// `COMPLETED` and `FAILED_VALIDATION` as `FAILED`. Any other code ranks 7, above `UNKNOWN`,
    /// so that a custom code a step chose deliberately is never overwritten by a generic one.
    public var severity: Int {
        for (rank, prefix) in Self.severityOrder.enumerated() where exitCode.hasPrefix(prefix) {
            return rank + 1
        }
        return Self.severityOrder.count + 1
    }

    private static let severityOrder = ["EXECUTING", "COMPLETED", "NOOP", "STOPPED", "FAILED", "UNKNOWN"]

    /// Whether the code says the execution is still in progress (exactly `EXECUTING` or `UNKNOWN`).
    public var isRunning: Bool {
        exitCode == "EXECUTING" || exitCode == "UNKNOWN"
    }

    /// Combines two exit statuses, keeping the more severe code and both descriptions.
    ///
    /// The code of `other` replaces this one when it has a higher ``severity``, or the same
    /// severity and sorts after this code (Java's `String.compareTo`, UTF-16 order), which is
    /// Spring Batch's `ExitStatus.and`. Descriptions are joined as in ``adding(description:)``.
    ///
    /// - Parameter other: The status to fold in, typically a later or more detailed outcome.
    /// - Returns: The combined status.
    public func and(_ other: ExitStatus) -> ExitStatus {
        var result = adding(description: other.exitDescription)
        if ranksBelow(other) {
            result = result.replacingExitCode(other.exitCode)
        }
        return result
    }

    /// Appends a description, separated from the current one by `"; "`.
    ///
    /// A blank description, or one equal to the current description, changes nothing, so folding
    /// the same message in twice does not repeat it.
    ///
    /// - Parameter description: The text to append.
    /// - Returns: A status with the same code and the longer description.
    public func adding(description: String) -> ExitStatus {
        let changed = description.hasText && description != exitDescription
        var text = ""
        if exitDescription.hasText {
            text = exitDescription
            if changed {
                text += "; "
            }
        }
        if changed {
            text += description
        }
        return ExitStatus(exitCode: exitCode, exitDescription: text)
    }

    /// Appends a description of an error: its type and what it says.
    ///
    /// - Parameter error: The error that ended the execution.
    /// - Returns: A status with the same code and the error appended to the description.
    public func adding(error: any Error) -> ExitStatus {
        adding(description: "\(String(reflecting: type(of: error))): \(error)")
    }

    /// Returns a status with the same description and a different code.
    ///
    /// - Parameter exitCode: The new code.
    public func replacingExitCode(_ exitCode: String) -> ExitStatus {
        ExitStatus(exitCode: exitCode, exitDescription: exitDescription)
    }

    /// This status with its description cut to what the repository stores.
    ///
    /// The repository writes this, not the full status; cut it before comparing a status with one
    /// read back from storage.
    public var truncatedForStorage: ExitStatus {
        ExitStatus(
            exitCode: exitCode,
            exitDescription: exitDescription.truncated(toUnicodeScalars: Self.maxStoredDescriptionLength)
        )
    }

    /// `exitCode=...;exitDescription=...`, Spring Batch's rendering.
    public var description: String {
        "exitCode=\(exitCode);exitDescription=\(exitDescription)"
    }

    /// Spring Batch's `compareTo(other) < 0`: lower severity, or equal severity and an earlier code.
    private func ranksBelow(_ other: ExitStatus) -> Bool {
        let (mine, theirs) = (severity, other.severity)
        if mine != theirs {
            return mine < theirs
        }
        return exitCode.utf16.lexicographicallyPrecedes(other.exitCode.utf16)
    }
}
