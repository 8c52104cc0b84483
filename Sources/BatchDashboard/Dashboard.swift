import Batch
import BatchPostgres
import Hummingbird
import Logging
import NIOCore
import PostgresClient

/// The web dashboard over a job repository: pages for executions, partitions, workers and
/// jobs, live while executions run, and operator actions (stop, restart, abandon, recover,
/// launch) for authenticated operators, each recorded in `batch_operator_action`.
///
/// Run it with ``DashboardService`` (a swift-service-lifecycle `Service`), or build its
/// Hummingbird application with ``makeApplication(onServerRunning:)``.
public final class Dashboard: Sendable {
    public let configuration: DashboardConfiguration
    let logger: Logger
    /// The pages' connections: the dashboard's login, read-only.
    let reads: ConnectionPool
    let csrf = CSRFTokens()
    let rates = RateSamples()
    let launches: LaunchRunner
    let jobs: [String: Job]

    public init(configuration: DashboardConfiguration, logger: Logger = Logger(label: "swiftbatch.dashboard")) {
        self.configuration = configuration
        self.logger = logger
        self.reads = ConnectionPool(connectionString: configuration.databaseURL, size: configuration.connections) { db in
            // Pages never write; statements are bounded; JIT only slows short dashboard queries.
            try db.execute("""
                SELECT set_config('default_transaction_read_only', 'on', false), set_config('statement_timeout', '10s', false),
                       set_config('jit', 'off', false), set_config('TimeZone', 'UTC', false),
                       set_config('application_name', 'swiftbatch-dashboard', false)
                """)
        }
        self.launches = LaunchRunner(
            operatorDatabaseURL: configuration.operatorDatabaseURL ?? configuration.databaseURL,
            leaseSeconds: configuration.leaseSeconds, logger: logger)
        var jobs: [String: Job] = [:]
        for job in configuration.jobs { jobs[job.name] = job }
        self.jobs = jobs
    }

    /// Checks that the repository is reachable with the schema this binary expects; throws
    /// ``SchemaError`` or `PostgresError` (connectionFailed) otherwise.
    public func checkRepository() async throws {
        try await reads.run { try SchemaMigrations.check(on: $0) }
    }

    /// The Hummingbird application serving the dashboard.
    public func makeApplication(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "swiftbatch-dashboard"),
            onServerRunning: onServerRunning,
            logger: logger)
    }

    /// Closes the repository connections.
    public func close() async {
        await reads.close()
    }
}
