import Synchronization

/// The name of the command line the jobs run under: what hints tell the user to run
/// ("start one with `billing worker`", "run `billing migrate`") and what log lines are
/// labelled with.
///
/// `SwiftBatchCLI.main` sets it once, before anything runs, from the name the application
/// gives or its executable's name; a program that drives the engine without the command line
/// may set it too. It is `swiftbatch` until then.
public enum ApplicationName {
    private static let storage = Mutex("swiftbatch")

    /// The name hints and logs use.
    public static var current: String { storage.withLock { $0 } }

    /// Sets the name; an empty one is ignored.
    public static func set(_ name: String) {
        guard !name.isEmpty else { return }
        storage.withLock { $0 = name }
    }
}
