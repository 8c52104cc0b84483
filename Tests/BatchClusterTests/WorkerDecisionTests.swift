import Batch
import BatchPostgres
import PostgresClient
import Testing

@testable import BatchCluster

@Suite struct WorkerDecisionTests {
    let fence = PartitionFence(partitionID: 1, owner: "w", attempt: 1, leaseSeconds: 30, workerStep: "j/s")
    let chunk = RemoteChunkFence(chunkID: 9, owner: "w", attempt: 1, seq: 0, workerStep: "j/r")

    @Test func slotsTrackWhatTheHeartbeatMustRenew() {
        let now = ContinuousClock.now
        var slots = WorkerSlots(count: 3)
        #expect(slots.free == [0, 1, 2] && slots.isIdle && slots.hasFreeSlotOrShuttingDown)
        slots.assign(fence, to: 0, renewedAt: now, lease: .seconds(30))
        slots.assign(chunk, to: 2)
        #expect(slots.free == [1] && !slots.isIdle)
        #expect(slots.heldPartitions.map(\.fence) == [fence] && slots.heldPartitions.map(\.slot) == [0])
        #expect(slots.heldChunks == [chunk])
        // A slot that moves on to the next partition renews only the new claim.
        var next = fence
        next.partitionID = 2
        slots.assign(next, to: 0, renewedAt: now, lease: .seconds(30))
        #expect(slots.heldPartitions.map(\.fence) == [next])
        slots.assign(fence, to: 1, renewedAt: now, lease: .seconds(30))
        #expect(!slots.hasFreeSlotOrShuttingDown)
        slots.shutDown()
        #expect(slots.hasFreeSlotOrShuttingDown && slots.shuttingDown)
        for slot in 0..<3 { slots.release(slot) }
        #expect(slots.isIdle && slots.heldPartitions.isEmpty && slots.heldChunks.isEmpty)
    }

    @Test func aClaimIsTrustedForALeaseFromItsLastRenewalThenDoubtfulAndLostOnlyOnTheHeartbeatsWord() {
        let start = ContinuousClock.now
        let lease = Duration.seconds(30)
        var slots = WorkerSlots(count: 2)
        var other = fence
        other.partitionID = 2
        slots.assign(fence, to: 0, renewedAt: start, lease: lease)
        slots.assign(other, to: 1, renewedAt: start, lease: lease)
        #expect(slots.doubtful(now: start + .seconds(29)).isEmpty)
        // A heartbeat (or the slot's own commit) that started at 20 s renews slot 0 until 50 s.
        slots.renewed(fence.partitionID, at: start + .seconds(20), lease: lease)
        // An older renewal never shortens the trust.
        slots.renewed(fence.partitionID, at: start + .seconds(5), lease: lease)
        // Not renewed for a lease: doubtful (another worker may hold it), but not lost.
        #expect(slots.doubtful(now: start + .seconds(31)) == [1])
        #expect(!slots.isLost(1) && !slots.isLost(0))
        // A late renewal (the heartbeat got through after all) makes it trusted again.
        slots.renewed(other.partitionID, at: start + .seconds(40), lease: lease)
        #expect(slots.doubtful(now: start + .seconds(49)).isEmpty)
        // The heartbeat's word that a claim is gone counts at once, and only once.
        #expect(slots.markLost([fence.partitionID]) == [0])
        #expect(slots.markLost([fence.partitionID]).isEmpty)
        #expect(slots.isLost(0))
        // A lost claim is neither renewed, nor doubtful, nor renewed by the heartbeat.
        slots.renewed(fence.partitionID, at: start + .seconds(45), lease: lease)
        #expect(slots.isLost(0))
        #expect(slots.doubtful(now: start + .seconds(200)) == [1])
        #expect(slots.heldPartitions.map(\.slot) == [1])
        slots.release(0)
        #expect(!slots.isLost(0))
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
        #expect(throws: WorkerError.self) {
            try WorkerConfiguration(connectionString: nil, workerID: String(repeating: "h", count: 201)).validate()
        }
        // The default id fits however long the host name.
        #expect(WorkerConfiguration.defaultID().utf8.count <= WorkerConfiguration.maxWorkerIDLength)
        #expect(configuration.deadPeerDetection.timeout == .seconds(9))
    }
}
