import Foundation
import Synchronization

/// The last seconds of each followed execution's read count, so the live pages show the same
/// items/s as the CLI's progress line (a rate over the last 10 seconds, not since the start).
final class RateSamples: Sendable {
    private struct Entry {
        var samples: [(time: Date, read: Int64)] = []
        var seen = Date.distantPast
    }

    private let entries = Mutex<[Int64: Entry]>([:])

    /// Adds a picture of execution `id` taken at the database's `now`, and returns the
    /// pictures of its last 10 seconds, oldest first.
    func add(id: Int64, now: Date, read: Int64) -> [(time: Date, read: Int64)] {
        entries.withLock { entries in
            var entry = entries[id] ?? Entry()
            if entry.samples.last.map({ now > $0.time }) ?? true {
                entry.samples.append((now, read))
            }
            entry.samples.removeAll { now.timeIntervalSince($0.time) > 10 }
            entry.seen = Date()
            entries[id] = entry
            // Executions nobody looked at for a minute are forgotten.
            if entries.count > 64 {
                let cutoff = Date(timeIntervalSinceNow: -60)
                entries = entries.filter { $0.value.seen > cutoff }
            }
            return entry.samples
        }
    }
}
