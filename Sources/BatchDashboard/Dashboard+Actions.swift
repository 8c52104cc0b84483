import Batch
import BatchCluster
import BatchPostgres
import Foundation
import Hummingbird
import Logging
import PostgresClient

extension Dashboard {
    func addActionRoutes(to router: Router<DashboardContext>) {
        router.post("/executions/:id/stop") { request, context in
            await self.act(request) { user, _ in
                try await self.changeStatus(
                    .stop, id: try Self.executionID(context), user: user, client: context.client, wanted: .stopping,
                    refusal: "is not running: nothing to stop"
                ) { try $0.requestStop(jobExecutionID: $1) }
            }
        }
        router.post("/executions/:id/abandon") { request, context in
            await self.act(request) { user, _ in
                try await self.changeStatus(
                    .abandon, id: try Self.executionID(context), user: user, client: context.client, wanted: .abandoned,
                    refusal: "cannot be abandoned: only FAILED, STOPPED or UNKNOWN executions can"
                ) { try $0.abandon(jobExecutionID: $1) }
            }
        }
        router.post("/executions/:id/restart") { request, context in
            await self.act(request) { user, _ in
                try await self.restart(id: try Self.executionID(context), user: user, client: context.client)
            }
        }
        router.post("/jobs/launch") { request, context in
            await self.act(request) { user, fields in
                try await self.launch(fields, user: user, client: context.client)
            }
        }
        router.post("/recover") { request, context in
            await self.act(request) { user, _ in
                try await self.recover(user: user, client: context.client)
            }
        }
    }

    /// Authorizes an action (see ``authorizeAction(_:)``) and runs it, turning what it throws
    /// into a page that says why.
    func act(
        _ request: Request, _ body: (DashboardUsers.User, [String: String]) async throws -> Response
    ) async -> Response {
        let viewer = (try? viewer(for: request).get()) ?? Viewer()
        do {
            let (user, fields) = try await authorizeAction(request)
            return try await body(user, fields)
        } catch {
            return failure(error, viewer: viewer)
        }
    }

    /// The repository as the operators' login, for one action, on a thread of its own.
    func asOperator<Result: Sendable>(_ body: @escaping @Sendable (PostgresJobRepositorySession) throws -> Result) async throws -> Result {
        let repository = PostgresJobRepository(
            connectionString: configuration.operatorDatabaseURL ?? configuration.databaseURL, synchronousCommit: true)
        return try await repository.withSession(body)
    }

    /// Stop and abandon: the change and its audit record commit together, so no action goes
    /// unrecorded.
    func changeStatus(
        _ action: DashboardAction, id: Int64, user: DashboardUsers.User, client: String?, wanted: BatchStatus, refusal: String,
        _ change: @escaping @Sendable (PostgresJobRepositorySession, Int64) throws -> BatchStatus?
    ) async throws -> Response {
        let status = try await asOperator { session in
            try session.connection.withTransaction { db in
                let status = try change(session, id)
                guard let status else { return BatchStatus?.none }
                let done = status == wanted
                try AuditLog.record(
                    AuditRecord(
                        actor: user.name, action: action, executionID: id, jobName: try Self.jobName(of: id, on: db), detail: nil,
                        outcome: done ? .done : .refused,
                        message: done ? "execution \(id) is \(status.rawValue)" : "execution \(id) is \(status.rawValue) and \(refusal)",
                        client: client),
                    on: db)
                return status
            }
        }
        guard let status else { throw RefusedRequest(status: .notFound, message: "There is no job execution \(id).") }
        guard status == wanted else {
            throw RefusedRequest(status: .conflict, message: "Execution \(id) is \(status.rawValue) and \(refusal).")
        }
        logger.notice("\(action.rawValue) by \(user.name)", metadata: ["batch.job.execution_id": "\(id)"])
        return PageLayout.redirect(to: "/executions/\(id)?done=\(action.rawValue)")
    }

    func restart(id: Int64, user: DashboardUsers.User, client: String?) async throws -> Response {
        guard let found = try await asOperator({ try $0.jobExecution(id: id) }) else {
            throw RefusedRequest(status: .notFound, message: "There is no job execution \(id).")
        }
        guard found.status == .failed || found.status == .stopped else {
            try await audit(.restart, user: user, client: client, id: id, job: found.jobName, outcome: .refused,
                            message: "execution \(id) is \(found.status.rawValue); only FAILED or STOPPED executions restart")
            throw RefusedRequest(
                status: .conflict, message: "Execution \(id) is \(found.status.rawValue): only FAILED or STOPPED executions restart.")
        }
        guard let job = jobs[found.jobName] else {
            throw RefusedRequest(
                status: .conflict,
                message: "This dashboard has no job named \(found.jobName): restart it with the executable that has it (swiftbatch restart \(id)).")
        }
        return try await startLaunch(
            .restart, job: job, parameters: found.parameters, next: false, user: user, client: client, restarting: id)
    }

    func launch(_ fields: [String: String], user: DashboardUsers.User, client: String?) async throws -> Response {
        let name = fields["job"] ?? ""
        guard let job = jobs[name] else {
            throw BadRequest("unknown job \"\(name)\"; the jobs here are: \(jobs.keys.sorted().joined(separator: ", "))")
        }
        let text = fields["parameters"] ?? ""
        let next = fields["next"] == "1"
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let viewer = Viewer(user: user, csrfToken: csrf.token(for: user.name))
        // Validated as `swiftbatch launch` validates, before anything is written.
        let given: JobParameters
        do {
            given = try JobParameters(parsing: lines)
            _ = try job.resolveParameters(given)
        } catch let error as JobParametersError {
            return try await jobsPage(
                viewer: viewer, form: JobsPage.LaunchForm(job: name, parameters: text, next: next, error: error.description), status: .badRequest)
        } catch let error as JobLaunchError {
            return try await jobsPage(
                viewer: viewer, form: JobsPage.LaunchForm(job: name, parameters: text, next: next, error: error.message), status: .badRequest)
        }
        do {
            return try await startLaunch(.launch, job: job, parameters: given, next: next, user: user, client: client, restarting: nil)
        } catch let refused as RefusedRequest where refused.status == .conflict {
            return try await jobsPage(
                viewer: viewer, form: JobsPage.LaunchForm(job: name, parameters: text, next: next, error: refused.message), status: .conflict)
        }
    }

    /// Starts a launch (or restart) in this process and sends the browser to its execution.
    func startLaunch(
        _ action: DashboardAction, job: Job, parameters: JobParameters, next: Bool, user: DashboardUsers.User, client: String?,
        restarting: Int64?
    ) async throws -> Response {
        // The parameters as the job reads them (typed, defaults added), as the launch records them.
        let detail = ((try? job.resolveParameters(parameters)) ?? parameters).description + (next ? " --next" : "")
        let newID: Int64
        do {
            newID = try await launches.start(job, parameters: parameters, next: next)
        } catch let error as JobLaunchError {
            try await audit(action, user: user, client: client, id: restarting, job: job.name,
                            outcome: error.code.isRefusal ? .refused : .failed, message: error.message, detail: detail)
            throw RefusedRequest(status: error.code.isRefusal ? .conflict : .badRequest, message: error.message)
        } catch {
            try? await audit(action, user: user, client: client, id: restarting, job: job.name, outcome: .failed,
                             message: "\(error)", detail: detail)
            throw error
        }
        let message = restarting.map { "restarted execution \($0) as execution \(newID)" } ?? "launched execution \(newID)"
        try await audit(action, user: user, client: client, id: newID, job: job.name, outcome: .done, message: message, detail: detail)
        logger.notice("\(action.rawValue) by \(user.name)", metadata: ["batch.job.execution_id": "\(newID)", "batch.job.name": "\(job.name)"])
        return PageLayout.redirect(to: "/executions/\(newID)?done=\(action.rawValue)")
    }

    func recover(user: DashboardUsers.User, client: String?) async throws -> Response {
        let decisions = try await asOperator { try $0.recoverAbandonedExecutions(dryRun: false) }
        let failed = decisions.filter { if case .failed = $0.action { true } else { false } }
        for decision in failed {
            try await audit(.recover, user: user, client: client, id: decision.executionID, job: decision.jobName, outcome: .done,
                            message: "marked FAILED: its launcher and workers are gone", detail: decision.launcher)
        }
        if failed.isEmpty {
            try await audit(.recover, user: user, client: client, id: nil, job: nil, outcome: .done,
                            message: "nothing to recover (\(decisions.count) running executions left alone)")
        }
        let viewer = Viewer(user: user, csrfToken: csrf.token(for: user.name))
        var body = "<h1>Recover</h1>"
        if decisions.isEmpty {
            body += "<p>No execution is running: nothing to recover.</p>"
        } else {
            body += "<div class=\"table-wrap\"><table><thead><tr><th>Execution</th><th>Job</th><th>Decision</th></tr></thead><tbody>"
            for decision in decisions {
                let text: String
                switch decision.action {
                case .failed(let partitions):
                    text = "marked FAILED" + (partitions > 0 ? " with \(partitions) unfinished partitions" : "")
                        + ": its launcher and workers are gone; restart it from its page"
                case .launcherAlive: text = "left running: its launcher is alive"
                case .workersHoldPartitions(let claims): text = "left running: workers hold \(claims) of its partitions"
                case .noLauncherRecord: text = "left running: no launcher record (launched by an older swiftbatch)"
                }
                body += "<tr><td><a href=\"/executions/\(decision.executionID)\">\(decision.executionID)</a></td>"
                    + "<td>\(esc(decision.jobName))</td><td class=\"wrap\">\(esc(text))</td></tr>"
            }
            body += "</tbody></table></div>"
        }
        return PageLayout.html(PageLayout.page(title: "Recover", section: .executions, viewer: viewer, body: body))
    }

    func audit(
        _ action: DashboardAction, user: DashboardUsers.User, client: String?, id: Int64?, job: String?,
        outcome: AuditRecord.Outcome, message: String, detail: String? = nil
    ) async throws {
        let record = AuditRecord(
            actor: user.name, action: action, executionID: id, jobName: job, detail: detail, outcome: outcome, message: message,
            client: client)
        try await asOperator { try AuditLog.record(record, on: $0.connection) }
    }

    static func jobName(of id: Int64, on db: PostgresConnection) throws -> String? {
        try db.query("""
            SELECT i.job_name FROM batch_job_execution e JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
            WHERE e.job_execution_id = \(id)
            """).first?.decode(String.self, column: 0)
    }
}
