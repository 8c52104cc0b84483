import Foundation

/// A `swiftbatch` process started in the background, for tests that signal it; its standard
/// output and error go to one file.
public typealias RunningProcess = ChildProcess

extension SwiftBatchBinary {
    /// Starts `swiftbatch arguments...` in the background.
    ///
    /// - Parameter environment: variables set on top of (or, when nil, removed from) this
    ///   process's own.
    public func start(_ arguments: [String], environment: [String: String?] = [:]) throws -> RunningProcess {
        try ChildProcess(path, arguments, environment: environment)
    }
}
