import Batch

/// The steps a worker serves, by worker-step key (`job/step`): its jobs' partitioned and
/// remote chunk steps, narrowed to what `--steps` names.
struct WorkerSteps {
    var partitioned: [String: PartitionStep] = [:]
    var remote: [String: any RemoteChunkWorkerStep] = [:]

    /// - Parameter wanted: `job` or `job/step` names; nil serves every such step of `jobs`.
    /// - Throws: ``WorkerError`` naming the steps there are, when `wanted` names one that is not.
    init(jobs: [Job], wanted: [String]?) throws {
        var partitioned: [String: PartitionStep] = [:]
        var remote: [String: any RemoteChunkWorkerStep] = [:]
        for job in jobs {
            for case let step as PartitionStep in job.steps {
                partitioned[PartitionStep.workerStepKey(job: job.name, step: step.name)] = step
            }
            for case let step as any RemoteChunkWorkerStep in job.steps {
                remote[PartitionStep.workerStepKey(job: job.name, step: step.name)] = step
            }
        }
        guard let wanted else {
            self.partitioned = partitioned
            self.remote = remote
            return
        }
        for name in wanted {
            let matches = partitioned.filter { Self.key($0.key, matches: name) }
            let remoteMatches = remote.filter { Self.key($0.key, matches: name) }
            guard !matches.isEmpty || !remoteMatches.isEmpty else {
                let known = (Array(partitioned.keys) + Array(remote.keys)).sorted().joined(separator: ", ")
                throw WorkerError(message: "no partitioned or remote chunk step \"\(name)\" here; those steps are: \(known.isEmpty ? "(none)" : known)")
            }
            self.partitioned.merge(matches) { a, _ in a }
            self.remote.merge(remoteMatches) { a, _ in a }
        }
    }

    /// Whether the worker-step `key` is what `name` (a job, or a job's step) names.
    static func key(_ key: String, matches name: String) -> Bool {
        key == name || key.hasPrefix(name + "/")
    }

    /// Every key served, sorted: what the worker registers.
    var all: [String] { (Array(partitioned.keys) + Array(remote.keys)).sorted() }
    var partitionedKeys: [String] { partitioned.keys.sorted() }
    var remoteKeys: [String] { remote.keys.sorted() }
}
