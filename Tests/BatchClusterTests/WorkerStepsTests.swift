import Batch
import Testing

@testable import BatchCluster

@Suite struct WorkerStepsTests {
    final class Nothing: Tasklet {
        func execute(_ contribution: inout StepContribution, _ chunk: ChunkContext) throws -> RepeatStatus { .finished }
    }

    static func partitioned(_ step: String) -> PartitionStep {
        PartitionStep(step, partitioner: CountPartitioner(count: 1), workerStep: TaskletStep("\(step)-worker") { _ in Nothing() })
    }

    let jobs = [
        Job("ledger") {
            Self.partitioned("load")
            Self.partitioned("audit")
        },
        Job("billing") { Self.partitioned("charge") },
    ]


    @Test func withoutAListEveryPartitionedStepIsServed() throws {
        let served = try WorkerSteps(jobs: jobs, wanted: nil)
        #expect(served.all == ["billing/charge", "ledger/audit", "ledger/load"])
        #expect(served.remoteKeys.isEmpty)
    }

    @Test func aJobNameServesAllItsStepsAndAStepNameOnlyThatStep() throws {
        #expect(try WorkerSteps(jobs: jobs, wanted: ["ledger"]).all == ["ledger/audit", "ledger/load"])
        #expect(try WorkerSteps(jobs: jobs, wanted: ["ledger/load", "billing"]).all == ["billing/charge", "ledger/load"])
        // A prefix of a name is not the name.
        #expect(!WorkerSteps.key("ledger-etl/load", matches: "ledger"))
    }

    @Test func anUnknownNameIsRefusedNamingTheStepsThereAre() {
        #expect {
            try WorkerSteps(jobs: jobs, wanted: ["ledgr"])
        } throws: { error in
            "\(error)".contains("\"ledgr\"") && "\(error)".contains("billing/charge, ledger/audit, ledger/load")
        }
    }
}
