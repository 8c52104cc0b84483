import Batch
import Testing

@testable import BatchCluster

@Suite struct PartitionStateTests {
    @Test func aStepStoppedByTheWorkersShutdownIsHandedBackAndOneStoppedByTheJobStops() {
        func outcome(_ status: BatchStatus, shuttingDown: Bool = false, jobStopping: Bool = false) -> PartitionOutcome {
            PartitionOutcome.after(status: status, exitDescription: "why", workerShuttingDown: shuttingDown, jobStopping: jobStopping)
        }
        #expect(outcome(.completed) == .completed)
        #expect(outcome(.completed, shuttingDown: true) == .completed)
        #expect(outcome(.stopped, shuttingDown: true) == .handedBack)
        #expect(outcome(.stopped, shuttingDown: true, jobStopping: true) == .stopped)
        #expect(outcome(.stopped) == .stopped)
        #expect(outcome(.failed) == .failed("why"))
        #expect(outcome(.unknown, shuttingDown: true) == .failed("why"))
    }

    @Test func aFinishSaysWhichStateItSetsWhomItWakesAndWhetherItClaimsTheNext() {
        let completed = PartitionFinish(outcome: .completed, workerStep: "job/step")
        #expect(completed.state == .completed && completed.channel == ClusterChannels.partitionDone)
        #expect(completed.payload == "job/step" && completed.error == nil && completed.claimsNext)

        let failed = PartitionFinish(outcome: .failed(String(repeating: "x", count: 5000)), workerStep: "job/step")
        #expect(failed.state == .failed && failed.claimsNext)
        #expect(failed.error?.count == PartitionFinish.maxErrorLength)

        #expect(PartitionFinish(outcome: .stopped, workerStep: "s").state == .stopped)

        // A hand-back wakes the workers, not the manager, and never claims: the worker is leaving.
        let handedBack = PartitionFinish(outcome: .handedBack, workerStep: "job/step")
        #expect(handedBack.state == .ready && handedBack.channel == ClusterChannels.work && !handedBack.claimsNext)
    }
}
