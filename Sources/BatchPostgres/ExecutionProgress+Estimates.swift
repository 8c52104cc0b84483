import Batch
import Foundation

/// The figures `swiftbatch launch`'s progress line and the web dashboard derive from an
/// ``ExecutionProgress``: one computation, so both show the same rate and ETA.
extension ExecutionProgress {
    /// Seconds from the start to the end (to the database's now while it runs); nil before it starts.
    public var elapsedSeconds: Double? {
        guard let start = startTime else { return nil }
        return max(0, (endTime ?? now).timeIntervalSince(start))
    }

    /// Items read per second: over `samples` (`(time, read)` pictures of the last seconds, oldest
    /// first) when they span half a second or more, else the average since the start.
    public func itemsPerSecond(samples: [(time: Date, read: Int64)]) -> Double? {
        if let first = samples.first, let last = samples.last, last.time.timeIntervalSince(first.time) >= 0.5 {
            return Double(last.read - first.read) / last.time.timeIntervalSince(first.time)
        }
        if let elapsed = elapsedSeconds, elapsed > 0 {
            return Double(read) / elapsed
        }
        return nil
    }

    /// Seconds left, from the partitions of the running step: its time so far per finished
    /// partition, times the partitions left. Nil when it cannot be told (not running, not
    /// partitioned, no partition finished yet).
    public var estimatedSecondsRemaining: Double? {
        guard status.isRunning, let step = currentStep, let partitions = step.partitions,
            let start = step.startTime, partitions.done > 0, partitions.done < partitions.total
        else { return nil }
        let stepElapsed = now.timeIntervalSince(start)
        return stepElapsed / Double(partitions.done) * Double(partitions.total - partitions.done)
    }
}
