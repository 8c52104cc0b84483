import Batch

/// How a dashboard runs: where it listens, which repository it reads, who may use it.
public struct DashboardConfiguration: Sendable {
    /// The address to listen on; loopback by default.
    public var host: String
    /// The port; 0 picks a free one (tests).
    public var port: Int
    /// The job repository the pages read, as a login of the `swiftbatch_dashboard` role
    /// (read-only is enough: every dashboard connection is set `default_transaction_read_only`).
    public var databaseURL: String?
    /// The repository as the operators' login (a member of `swiftbatch_launcher`), for actions
    /// only; nil uses ``databaseURL`` (which then needs those rights).
    public var operatorDatabaseURL: String?
    /// Who may read and act.
    public var users: DashboardUsers
    /// Whether anyone who reaches the port may read the pages (actions still need an operator).
    public var openRead: Bool
    /// The jobs this dashboard can launch and restart (shown on the jobs page).
    public var jobs: [Job]
    /// How many repository connections serve the pages at most.
    public var connections: Int
    /// The lease of the launches the dashboard runs (see `swiftbatch launch --lease-seconds`).
    public var leaseSeconds: Int

    public init(
        host: String = "127.0.0.1", port: Int = 8080, databaseURL: String?, operatorDatabaseURL: String? = nil,
        users: DashboardUsers, openRead: Bool = false, jobs: [Job] = [], connections: Int = 4, leaseSeconds: Int = 30
    ) {
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.operatorDatabaseURL = operatorDatabaseURL
        self.users = users
        self.openRead = openRead
        self.jobs = jobs
        self.connections = connections
        self.leaseSeconds = leaseSeconds
    }

    /// Refuses settings that cannot work, saying what to change.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw DashboardConfigurationError("--port must be between 0 and 65535, not \(port)") }
        guard (1...64).contains(connections) else {
            throw DashboardConfigurationError("--connections must be between 1 and 64, not \(connections)")
        }
        guard (1...3600).contains(leaseSeconds) else {
            throw DashboardConfigurationError("--lease-seconds must be between 1 and 3600, not \(leaseSeconds)")
        }
        if users.isEmpty && !openRead {
            throw DashboardConfigurationError("""
                no dashboard user: give --auth-file FILE (lines name:secret[:role]) or set \
                SWIFTBATCH_DASHBOARD_AUTH, or --open-read to let anyone read (actions then stay off)
                """)
        }
    }
}
