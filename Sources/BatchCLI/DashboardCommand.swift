import ArgumentParser
import BatchDashboard
import BatchPostgres
import Foundation
import PostgresClient
import ServiceLifecycle
import UnixSignals

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the web dashboard: executions, partitions, workers and jobs, live; stop, restart, launch from a browser.",
        discussion: """
            Pages: executions (filter by job, status and time, paged over any history), one \
            execution (parameters, steps and flow path, counts, skipped items, exit messages; \
            live progress, items/s and ETA while it runs), a partitioned step (every partition, \
            stragglers and failures first, a throughput chart), workers (live, late, gone), the \
            jobs of this executable, and the audit of operator actions.

            Users come from --auth-file, else $SWIFTBATCH_DASHBOARD_AUTH: one user a line, \
            name:secret[:role], role operator (may act, the default) or viewer (may read). \
            Secrets are at least 12 characters; the file must not be readable by others \
            (chmod 600). There is no default user. Browsers sign in with HTTP basic auth; \
            scripts may send `Authorization: Bearer <secret>`. --open-read lets anyone who \
            reaches the port read (actions still need an operator). Serve it behind TLS (a \
            reverse proxy) when it leaves the host: basic auth sends the secret with every request.

            Actions (stop, restart, abandon, recover, launch) need an operator, a same-origin \
            form with the operator's token, and are recorded in batch_operator_action (who, \
            what, when, outcome). They use --operator-database-url (a member of \
            swiftbatch_launcher); the pages use --database-url, read-only (a member of \
            swiftbatch_dashboard is enough). Launches and restarts run in this process, as \
            `swiftbatch launch` would: partitioned steps wait for `swiftbatch worker` daemons.

            SIGTERM or SIGINT stops serving (requests in flight finish). A job launched here \
            that still runs is then left to its lease: launch it again or `swiftbatch recover`.

            Examples:
              printf 'alice:%s:operator\\n' "$(openssl rand -hex 16)" > dashboard-users && chmod 600 dashboard-users
              swiftbatch dashboard --auth-file dashboard-users                 # http://127.0.0.1:8080/
              swiftbatch dashboard --listen 0.0.0.0 --port 9000 --open-read --auth-file dashboard-users \\
                  --database-url postgres://grafana@db/jobs --operator-database-url postgres://scheduler@db/jobs

            \(ExitCodes.helpText)
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("operator-database-url"),
        help: ArgumentHelp(
            "The repository as the operators' login, for actions only.",
            discussion: "Defaults to $SWIFTBATCH_OPERATOR_DATABASE_URL, else the --database-url.", valueName: "url"))
    var operatorDatabaseURL: String?

    @Option(name: .customLong("listen"), help: ArgumentHelp("The address to listen on.", valueName: "addr"))
    var listen = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free one, printed at start).")
    var port = 8080

    @Option(
        name: .customLong("auth-file"),
        help: ArgumentHelp("The users file: name:secret[:role] a line (see above).", valueName: "file"))
    var authFile: String?

    @Flag(name: .customLong("open-read"), help: "Let anyone who reaches the port read the pages (actions still need an operator).")
    var openRead = false

    @Option(help: "How many repository connections serve the pages at most.")
    var connections = 4

    @Option(name: .customLong("lease-seconds"), help: "The launcher lease of the jobs launched or restarted from the dashboard.")
    var leaseSeconds = 30

    func run() async throws {
        try database.checkURL()
        let users: DashboardUsers
        do {
            if let authFile {
                users = try DashboardUsers.load(path: authFile)
            } else if let text = ProcessInfo.processInfo.environment["SWIFTBATCH_DASHBOARD_AUTH"], !text.isEmpty {
                users = try DashboardUsers(parsing: text, source: "SWIFTBATCH_DASHBOARD_AUTH")
            } else {
                users = .none
            }
        } catch let error as DashboardConfigurationError {
            throw CommandFailure(error.message, exitCode: ExitCodes.usage)
        }
        var operatorURL = operatorDatabaseURL
        if operatorURL == nil, let fromEnvironment = ProcessInfo.processInfo.environment["SWIFTBATCH_OPERATOR_DATABASE_URL"],
            !fromEnvironment.isEmpty
        {
            operatorURL = fromEnvironment
        }
        let configuration = DashboardConfiguration(
            host: listen, port: port, databaseURL: database.resolvedURL, operatorDatabaseURL: operatorURL, users: users,
            openRead: openRead, jobs: JobRegistry.all, connections: connections, leaseSeconds: leaseSeconds)
        do {
            try configuration.validate()
        } catch let error as DashboardConfigurationError {
            throw CommandFailure(error.message, exitCode: ExitCodes.usage)
        }
        let logger = CLILogging.logger
        let listen = self.listen
        let service = DashboardService(configuration: configuration, logger: logger) { port in
            SwiftBatchCLI.printError("swiftbatch dashboard: serving http://\(listen.contains(":") ? "[\(listen)]" : listen):\(port)/")
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as SchemaError {
            throw CommandFailure(error.message, exitCode: ExitCodes.unavailable)
        } catch let error as PostgresError where error.kind == .connectionFailed {
            throw database.cannotConnect(error)
        }
    }
}
