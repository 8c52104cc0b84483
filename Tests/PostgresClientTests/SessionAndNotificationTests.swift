import Foundation
import BatchTestSupport
import PostgresClient
import Testing

@Suite("Sessions, notifications and lost connections", .timeLimit(.minutes(2)))
struct SessionAndNotificationTests {
    @Test func listenNotifyWithTimeout() async throws {
        try await TestDatabase.withConnection { listener, url in
            let sender = try PostgresConnection(connectionString: url)
            defer { sender.close() }
            try listener.listen("partition done")
            #expect(try listener.nextNotification(timeout: .milliseconds(50)) == nil)

            try sender.notify("partition done", payload: "42")
            let note = try #require(try listener.nextNotification(timeout: .seconds(10)))
            #expect(note.channel == "partition done")
            #expect(note.payload == "42")
            #expect(note.senderPID == sender.backendPID)

            // A notification sent in a rolled-back transaction never arrives.
            struct Abort: Error {}
            _ = try? sender.withTransaction { tx -> Void in
                try tx.notify("partition done", payload: "rolled back")
                throw Abort()
            }
            try sender.notify("partition done", payload: "after")
            #expect(try listener.nextNotification(timeout: .seconds(10))?.payload == "after")
        }
    }

    @Test func aTerminatedBackendIsALostConnectionAndReconnects() async throws {
        try await TestDatabase.withConnection { victim, url in
            let admin = try PostgresConnection(connectionString: url)
            defer { admin.close() }
            let pid = victim.backendPID
            #expect(try admin.query("SELECT pg_terminate_backend(\(pid))").single().decode(Bool.self, column: 0))
            let lost = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
            #expect(lost?.isConnectionLost == true)
            #expect(lost?.kind == .connectionLost)
            #expect(victim.isConnected == false)

            try victim.reconnect()
            #expect(victim.backendPID != pid)
            #expect(try victim.query("SELECT 7", prepared: true).single().decode(Int.self, column: 0) == 7)
        }
    }

    /// More sessions than the cooperative pool has threads block inside the server on an
    /// advisory lock that a plain thread holds. While they block, a task on the pool must still
    /// run: if libpq ran on the pool, the blocked calls would hold every pool thread and the
    /// probe task could not run, so the holder would give up waiting for it (then release the
    /// lock, so the test ends) and the expectation fails.
    @Test func blockingCallsNeverStarveTheCooperativePool() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let waiterCount = ProcessInfo.processInfo.activeProcessorCount + 2
            let lockHeld = Gate()
            let probeRan = Gate()
            let released = Gate()
            let probeSeen = Locked<Bool?>(nil)
            // The holder is a plain thread with a connection of its own, never a pool thread.
            Thread {
                defer { released.open() }
                do {
                    let db = try PostgresConnection(connectionString: url)
                    defer { db.close() }
                    try db.query("SELECT pg_advisory_lock(7)")
                    lockHeld.open()
                    // Bounded, so a starved pool fails the test instead of hanging it.
                    let ran = probeRan.wait(timeout: 30)
                    probeSeen.withLock { $0 = ran }
                    try db.query("SELECT pg_advisory_unlock(7)")
                } catch {
                    lockHeld.open()
                }
            }.start()
            #expect(try await onDedicatedThread { lockHeld.wait(timeout: 30) })

            let waiters = try await withThrowingTaskGroup(of: PostgresSession.self) { group in
                for _ in 0..<waiterCount {
                    group.addTask { try await PostgresSession.connect(to: url) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for waiter in waiters {
                    group.addTask {
                        try await waiter.run { db in
                            try db.query("SELECT pg_advisory_lock(7)")
                            try db.query("SELECT pg_advisory_unlock(7)")
                        }
                    }
                }
                let probe = try await PostgresSession.connect(to: url)
                try await waitFor("\(waiterCount) sessions waiting on the advisory lock") {
                    try await probe.run { db in
                        try db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                            .single().decode(Int.self, column: 0)
                    } >= waiterCount
                }
                await probe.close()
                // Every waiter now blocks inside the server: a task on the pool must still run.
                group.addTask { probeRan.open() }
                try await group.waitForAll()
            }
            #expect(try await onDedicatedThread { released.wait(timeout: 60) })
            #expect(probeSeen.withLock { $0 } == true, "no task ran on the cooperative pool while \(waiterCount) libpq calls blocked")
            for waiter in waiters { await waiter.close() }
        }
    }
}
