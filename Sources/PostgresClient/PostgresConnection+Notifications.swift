import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A message sent with NOTIFY.
public struct PostgresNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    /// The backend that sent it.
    public var senderPID: Int32
}

extension PostgresConnection {
    /// Subscribes this session to `channel`. Notifications arrive through
    /// ``nextNotification(timeout:)``.
    ///
    /// - Throws: ``PostgresError`` (`.usage`) through a transaction-mode pooler, where a
    ///   subscription would stay on a server session the connection does not keep: poll.
    public func listen(_ channel: String) throws {
        guard pooling == .session else {
            throw PostgresError.needsSession("LISTEN", instead: "poll for what the notifications would announce")
        }
        try execute("LISTEN \(identifier: channel)")
    }

    /// Unsubscribes from `channel`.
    public func unlisten(_ channel: String) throws {
        guard pooling == .session else { return }
        try execute("UNLISTEN \(identifier: channel)")
    }

    /// Sends a notification; inside a transaction it is delivered at COMMIT, and not at all on
    /// rollback.
    public func notify(_ channel: String, payload: String = "") throws {
        // Inside a transaction it is delivered at COMMIT anyway: it goes out with the next
        // statement (or the COMMIT) instead of a round trip of its own.
        let statement: PostgresQuery = "SELECT pg_notify(\(channel), \(payload))"
        if isInTransaction {
            try queue(statement, prepared: true)
        } else {
            try execute(statement, prepared: true)
        }
    }

    /// Waits up to `timeout` for a notification on a channel this session listens to.
    ///
    /// - Returns: the next notification, or nil if none came in time.
    /// - Throws: ``PostgresError`` `.connectionLost` when the session breaks while waiting.
    public func nextNotification(timeout: Duration) throws -> PostgresNotification? {
        let handle = try liveHandle()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            guard PQconsumeInput(handle) == 1 else { throw connectionError(query: nil) }
            if let notification = PQnotifies(handle) {
                defer { PQfreemem(notification) }
                return PostgresNotification(
                    channel: String(cString: notification.pointee.relname),
                    payload: String(cString: notification.pointee.extra),
                    senderPID: notification.pointee.be_pid)
            }
            let remaining = clock.now.duration(to: deadline)
            if remaining <= .zero { return nil }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(
                clamping: seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
            var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno != EINTR {
                throw PostgresError(kind: .connectionLost, message: "waiting on the socket failed (errno \(errno))")
            }
        }
    }
}
