import Batch
import BatchPostgres
import PostgresClient
import Testing

@testable import BatchCluster

@Suite struct WorkerDecisionTests {
    let fence = PartitionFence(partitionID: 1, owner: "w", attempt: 1, leaseSeconds: 30, workerStep: "j/s")
    let chunk = RemoteChunkFence(chunkID: 9, owner: "w", attempt: 1, seq: 0, workerStep: "j/r")

    @Test func slotsTrackWhatTheHeartbeatMustRenew() {
        var slots = WorkerSlots(count: 3)
        #expect(slots.free == [0, 1, 2] && slots.isIdle && slots.hasFreeSlotOrShuttingDown)
        slots.assign(.partition(fence), to: 0)
        slots.assign(.remoteChunk(chunk), to: 2)
        #expect(slots.free == [1] && !slots.isIdle)
        #expect(slots.heldPartitions == [fence] && slots.heldChunks == [chunk])
        // A slot that moves on to the next partition renews only the new claim.
        var next = fence
        next.partitionID = 2
        slots.assign(.partition(next), to: 0)
        #expect(slots.heldPartitions == [next])
        slots.assign(.partition(fence), to: 1)
        #expect(!slots.hasFreeSlotOrShuttingDown)
        slots.shutDown()
        #expect(slots.hasFreeSlotOrShuttingDown && slots.shuttingDown)
        for slot in 0..<3 { slots.release(slot) }
        #expect(slots.isIdle && slots.heldPartitions.isEmpty && slots.heldChunks.isEmpty)
    }

    @Test func backoffDoublesUpToItsMaximumAndResets() {
        var backoff = ReconnectBackoff(initial: .milliseconds(200), maximum: .seconds(1))
        let waits = (0..<5).map { _ in backoff.next() }
        #expect(waits == [.milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(200))
    }

    @Test func aPartitionsFailureIsDroppedResumedLeftOrAbandonedByItsCause() {
        let lost = PostgresError(kind: .connectionLost, message: "server closed the connection")
        let refused = PostgresError(kind: .server, sqlState: "23505", message: "duplicate key")
        #expect(PartitionFailure(PartitionLeaseLost(fence: fence), shuttingDown: false) == .leaseLost)
        #expect(PartitionFailure(PartitionLeaseLost(fence: fence), shuttingDown: true) == .leaseLost)
        #expect(PartitionFailure(lost, shuttingDown: false) == .resumeAfterReconnect)
        #expect(PartitionFailure(lost, shuttingDown: true) == .leaveToLease)
        #expect(PartitionFailure(refused, shuttingDown: false) == .abandon)
        #expect(PartitionFailure(WorkerError(message: "x"), shuttingDown: false) == .abandon)
    }

    @Test func leaseTimingsFollowTheLease() throws {
        let configuration = WorkerConfiguration(connectionString: nil, lease: .seconds(9))
        #expect(configuration.heartbeatInterval == .seconds(3))
        #expect(configuration.idleInTransactionTimeout == .seconds(18))
        #expect(configuration.leaseSeconds == 9)
        try configuration.validate()
        #expect(throws: WorkerError.self) { try WorkerConfiguration(connectionString: nil, concurrency: 0).validate() }
        #expect(throws: WorkerError.self) { try WorkerConfiguration(connectionString: nil, lease: .milliseconds(500)).validate() }
    }
}
