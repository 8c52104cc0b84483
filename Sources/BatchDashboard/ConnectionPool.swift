import PostgresClient
import Synchronization

/// A few PostgreSQL connections, each on a thread of its own, that request handlers await.
///
/// libpq blocks the thread that calls it, so no query ever runs on Swift's cooperative pool:
/// a handler hands its work to a free ``PostgresSession`` (its dedicated thread runs it) and
/// waits. At most `size` queries run at once; further requests wait their turn in order.
/// A connection that was lost is dropped and opened again for the next request.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [PostgresSession] = []
        var open = 0
        var waiters: [CheckedContinuation<PostgresSession?, Never>] = []
        var closed = false
    }

    private let connectionString: String?
    private let size: Int
    private let setUp: @Sendable (PostgresConnection) throws -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - setUp: runs on every new connection before its first use (session settings).
    init(connectionString: String?, size: Int, setUp: @escaping @Sendable (PostgresConnection) throws -> Void) {
        precondition(size > 0)
        self.connectionString = connectionString
        self.size = size
        self.setUp = setUp
    }

    /// Runs `body` with a connection, on that connection's thread.
    func run<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> Result) async throws -> Result {
        let session = try await checkOut()
        do {
            let result = try await session.run(body)
            checkIn(session, broken: false)
            return result
        } catch {
            checkIn(session, broken: PostgresError.isConnectionLost(error) || error is CancellationError)
            throw error
        }
    }

    /// Closes every idle connection; connections in use close when they come back.
    func close() async {
        let idle = state.withLock { state -> [PostgresSession] in
            state.closed = true
            let idle = state.idle
            state.idle = []
            state.open -= idle.count
            for waiter in state.waiters { waiter.resume(returning: nil) }
            state.waiters = []
            return idle
        }
        for session in idle { await session.close() }
    }

    private enum Grant {
        case session(PostgresSession)
        case openNew
        case wait
        case closed
    }

    private func checkOut() async throws -> PostgresSession {
        let grant = state.withLock { state -> Grant in
            if state.closed { return .closed }
            if let session = state.idle.popLast() { return .session(session) }
            if state.open < size {
                state.open += 1
                return .openNew
            }
            return .wait
        }
        switch grant {
        case .session(let session):
            return session
        case .closed:
            throw CancellationError()
        case .openNew:
            do {
                let session = try await PostgresSession.connect(to: connectionString, name: "dashboard-db")
                do {
                    try await session.run(setUp)
                } catch {
                    await session.close()
                    throw error
                }
                return session
            } catch {
                handOverSlot()
                throw error
            }
        case .wait:
            let granted = await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> PostgresSession?? in
                    if state.closed { return .some(nil) }
                    if let session = state.idle.popLast() { return .some(session) }
                    state.waiters.append(continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
            guard let granted else { throw CancellationError() }
            return granted
        }
    }

    private func checkIn(_ session: PostgresSession, broken: Bool) {
        if broken {
            Task { await session.close() }
            handOverSlot()
            return
        }
        let (waiter, closeIt) = state.withLock { state -> (CheckedContinuation<PostgresSession?, Never>?, Bool) in
            if state.closed {
                state.open -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            state.idle.append(session)
            return (nil, false)
        }
        if closeIt { Task { await session.close() } }
        waiter?.resume(returning: session)
    }

    /// A connection's slot is free (it failed to open, or broke): a waiter, if any, opens one.
    private func handOverSlot() {
        let waiter = state.withLock { state -> CheckedContinuation<PostgresSession?, Never>? in
            state.open -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        guard let waiter else { return }
        Task {
            do {
                let session = try await self.checkOut()
                waiter.resume(returning: session)
            } catch {
                waiter.resume(returning: nil)
            }
        }
    }
}
