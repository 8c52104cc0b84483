/// How a connection notices that its server went silent (a host black-holed, a cable cut, a
/// standby promoted elsewhere): TCP keepalives and `tcp_user_timeout`, set from one bound.
///
/// libpq's calls block, and without these settings a call whose peer vanished waits until the
/// kernel gives up: about 15 minutes when the request was never acknowledged, over 2 hours when
/// it was and the reply is awaited. With them, the kernel drops such a connection after about
/// `timeout` (at most 1.25 × `timeout`), and the blocked call returns a `.connectionLost` error:
///
/// - unacknowledged data (a request, a COMMIT) is retransmitted for at most `timeout`
///   (`tcp_user_timeout`);
/// - an idle connection, or one awaiting a reply, sends a keepalive probe after `timeout / 4`
///   of silence and every `timeout / 8` after that, and is dropped once `timeout` passed with
///   no answer.
///
/// A busy server still answers probes, so a long statement is never cut short. Settings a
/// connection string names itself (`keepalives_idle=...`) win over these on the client's side.
///
/// The server is told the same bound for its side of the connection (``serverSettings``): a
/// client that went silent while the server waits on it (inside a COPY, say) has its backend
/// ended, its transaction rolled back and its locks released, within about `timeout`.
public struct DeadPeerDetection: Sendable, Equatable {
    /// How long a silent peer is waited for, at least 2 seconds.
    public var timeout: Duration

    /// What a connection uses unless told otherwise: 30 seconds.
    public static let standard = DeadPeerDetection(timeout: .seconds(30))

    public init(timeout: Duration) {
        self.timeout = max(timeout, .seconds(2))
    }

    /// The server's settings that say the same of the client, for its side of the connection
    /// (`tcp_keepalives_idle`, `tcp_keepalives_interval`, `tcp_keepalives_count`,
    /// `tcp_user_timeout`).
    public var serverSettings: [(key: String, value: String)] {
        parameters.compactMap { key, value in
            switch key {
            case "keepalives": nil
            case "tcp_user_timeout": (key, value)
            default: ("tcp_" + key, value)
            }
        }
    }

    /// The libpq connection parameters that say it.
    public var parameters: [(key: String, value: String)] {
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let seconds = max(milliseconds / 1000, 1)
        return [
            ("keepalives", "1"),
            ("keepalives_idle", String(max(seconds / 4, 1))),
            ("keepalives_interval", String(max(seconds / 8, 1))),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", String(milliseconds)),
        ]
    }
}
