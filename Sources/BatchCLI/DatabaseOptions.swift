import ArgumentParser
import BatchPostgres
import Foundation
import PostgresClient

/// How every command finds the job repository.
public struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL or conninfo of the job repository.",
            discussion: "Defaults to $DATABASE_URL, else libpq's PG* variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE...).",
            valueName: "url"))
    public var databaseURL: String?

    @Option(
        name: .customLong("database-url-file"),
        help: ArgumentHelp(
            "A file holding the URL or conninfo of the job repository (its first line).",
            discussion: "For daemons: a password in --database-url shows in `ps`; a file readable by the service alone does not. Also $DATABASE_URL_FILE.",
            valueName: "path"))
    public var databaseURLFile: String?

    @Option(
        name: .customLong("pooler"),
        help: ArgumentHelp(
            "What is between this process and PostgreSQL: session (PostgreSQL itself, or a pooler in session mode) or transaction (PgBouncer in pool_mode = transaction).",
            discussion: "Default: $SWIFTBATCH_POOLER, else session. With transaction, no session state is kept: statements are prepared unnamed, no session SET is sent (synchronous_commit goes with each transaction as SET LOCAL), workers and launchers poll instead of LISTEN, nothing is sent ahead of need, and PostgresCursorReader is refused. See docs/OPERATIONS.md, \"Poolers\".",
            valueName: "mode"))
    public var pooler: PostgresPooling?

    public init() {}

    /// Takes `--pooler` (or `SWIFTBATCH_POOLER`) as the pooling of every connection the
    /// process opens from now on.
    public mutating func validate() throws {
        var pooling = pooler
        if pooling == nil, let name = ProcessInfo.processInfo.environment["SWIFTBATCH_POOLER"], !name.isEmpty {
            guard let named = PostgresPooling(rawValue: name) else {
                throw ValidationError("SWIFTBATCH_POOLER must be session or transaction, not \"\(name)\"")
            }
            pooling = named
        }
        PostgresPooling.default = pooling ?? .session
    }

    /// The connection string in force: `--database-url`, else `--database-url-file`, else
    /// `DATABASE_URL`, else `DATABASE_URL_FILE`, else nil for `PG*`. A file that cannot be read
    /// gives nil here; ``checkURL()`` says why.
    public var resolvedURL: String? {
        try? resolveURL()
    }

    func resolveURL() throws -> String? {
        if let databaseURL, !databaseURL.isEmpty { return databaseURL }
        if let databaseURLFile, !databaseURLFile.isEmpty { return try Self.readURL(from: databaseURLFile, naming: "--database-url-file") }
        let environment = ProcessInfo.processInfo.environment
        if let fromEnvironment = environment["DATABASE_URL"], !fromEnvironment.isEmpty { return fromEnvironment }
        if let file = environment["DATABASE_URL_FILE"], !file.isEmpty { return try Self.readURL(from: file, naming: "DATABASE_URL_FILE") }
        return nil
    }

    /// The first line of `path`, trimmed.
    static func readURL(from path: String, naming source: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure(
                "cannot read the database URL from \(path) (\(source)): no such file, not readable by this user, or not UTF-8\nhint: write the URL on the file's first line, readable by the service's user only (chmod 600)",
                exitCode: ExitCodes.usage)
        }
        let line = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !line.isEmpty else {
            throw CommandFailure("\(path) (\(source)) holds no database URL on its first line", exitCode: ExitCodes.usage)
        }
        return line
    }

    /// Opens a session, turning a failure into a message that names the database (without
    /// its password) and what to check.
    public func connect(name: String = "repository") async throws -> PostgresSession {
        try checkURL()
        do {
            return try await PostgresSession.connect(to: resolvedURL, name: name)
        } catch let error as PostgresError {
            throw cannotConnect(error)
        }
    }

    /// A malformed URL is a usage error, told before anything tries to connect.
    func checkURL() throws {
        guard let url = try resolveURL() else { return }
        do {
            _ = try ConnectionString(url)
        } catch let error as PostgresError {
            throw CommandFailure(
                "\(error.message)\nhint: \(error.hint ?? "")", exitCode: ExitCodes.usage)
        }
    }

    /// The failure to report when the database cannot be reached: it names the database
    /// (without its password) and what to check.
    func cannotConnect(_ error: PostgresError) -> CommandFailure {
        CommandFailure(
            """
            cannot connect to the job repository at \(ConnectionString.redacted(resolvedURL)): \(error.message)
            hint: check --database-url or DATABASE_URL (or PGHOST/PGPORT/PGUSER/PGDATABASE), and that PostgreSQL is running
            """,
            exitCode: ExitCodes.unavailable)
    }

    /// Runs `body` with a session (schema checked unless `checked` is false) and closes the
    /// session whatever happens.
    public func withSession<Result: Sendable>(
        name: String, checked: Bool = true, _ body: (PostgresSession) async throws -> Result
    ) async throws -> Result {
        let session = checked ? try await connectChecked(name: name) : try await connect(name: name)
        do {
            let result = try await body(session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    /// Opens a session and checks the schema is the one this binary needs.
    public func connectChecked(name: String = "repository") async throws -> PostgresSession {
        let session = try await connect(name: name)
        do {
            try await session.run { try SchemaMigrations.check(on: $0) }
        } catch let error as SchemaError {
            await session.close()
            throw CommandFailure(error.message, exitCode: ExitCodes.unavailable)
        }
        return session
    }
}

extension PostgresPooling: ExpressibleByArgument {}
