import Batch
import Foundation
import Testing

@testable import BatchCluster

@Suite struct PartitionCommitGuardTests {
    let fence = PartitionFence(partitionID: 7, owner: "w1", attempt: 2, leaseSeconds: 30, workerStep: "job/step")
    let request = ClaimRequest(workerID: "w1", steps: ["job/step"], leaseSeconds: 30)

    func execution(_ status: BatchStatus) -> StepExecution {
        var execution = StepExecution(
            id: 1, jobExecutionID: 1, stepName: "step:p0", createTime: Date(), lastUpdated: Date(), context: [:])
        execution.status = status
        return execution
    }

    @Test func aRenewalNeverEndsThePartition() {
        let saveGuard = PartitionCommitGuard(fence: fence, end: .renew)
        #expect(saveGuard.finishing(execution(.completed)) == nil)
        #expect(saveGuard.finishing(execution(.started)) == nil)
    }

    @Test func aChunkCommitEndsThePartitionOnlyWhenItsStepCompletes() throws {
        let saveGuard = PartitionCommitGuard(fence: fence, end: .whenCompleted(claimNext: request))
        #expect(saveGuard.finishing(execution(.started)) == nil)
        #expect(saveGuard.finishing(execution(.failed)) == nil)
        let ending = try #require(saveGuard.finishing(execution(.completed)))
        #expect(ending.finish == PartitionFinish(outcome: .completed, workerStep: "job/step"))
        #expect(ending.claimNext?.workerID == "w1")
    }

    @Test func anExplicitEndClaimsTheNextUnlessItHandsThePartitionBack() throws {
        let failed = PartitionFinish(outcome: .failed("boom"), workerStep: "job/step")
        let ending = try #require(PartitionCommitGuard(fence: fence, end: .finish(failed, claimNext: request))
            .finishing(execution(.failed)))
        #expect(ending.finish == failed && ending.claimNext != nil)

        let handedBack = PartitionFinish(outcome: .handedBack, workerStep: "job/step")
        let leaving = try #require(PartitionCommitGuard(fence: fence, end: .finish(handedBack, claimNext: request))
            .finishing(execution(.starting)))
        #expect(leaving.finish.state == .ready && leaving.claimNext == nil)
    }
}
