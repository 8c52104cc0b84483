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

    /// Four sessions block inside the server on an advisory lock that a fifth holds. If libpq ran
    /// on the cooperative pool (two threads here), the blocked calls would starve the one that
    /// releases the lock and this test would hang until its time limit.
    @Test func blockingCallsNeverStarveTheCooperativePool() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let holder = try await PostgresSession.connect(to: url)
            try await holder.run { try $0.query("SELECT pg_advisory_lock(7)") }
            let waiters = try await withThrowingTaskGroup(of: PostgresSession.self) { group in
                for _ in 0..<4 {
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
                // Release only once all four are waiting on the lock inside the server.
                let probe = try await PostgresSession.connect(to: url)
                while try await probe.run({ db in
                    try db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                        .single().decode(Int.self, column: 0)
                }) < 4 {
                    try await Task.sleep(for: .milliseconds(10))
                }
                await probe.close()
                try await holder.run { try $0.query("SELECT pg_advisory_unlock(7)") }
                try await group.waitForAll()
            }
            for waiter in waiters { await waiter.close() }
            await holder.close()
        }
    }
}
