import Batch
import BatchPostgres
import Foundation
import HTTPTypes
import Hummingbird

extension Dashboard {
    func makeRouter() -> Router<DashboardContext> {
        let router = Router(context: DashboardContext.self)
        router.get("/") { _, _ in PageLayout.redirect(to: "/executions") }
        router.get("/static/dashboard.css") { _, _ in PageLayout.asset(DashboardAssets.css, type: "text/css; charset=utf-8") }
        router.get("/static/live.js") { _, _ in PageLayout.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/login") { request, _ in self.login(request) }

        router.get("/executions") { request, _ in
            await self.read(request) { viewer in
                let filter = try ExecutionsPage.parseFilter(formFields(request.uri.query ?? ""))
                let (page, running, names) = try await self.reads.run { db in
                    (try ExecutionListReads.page(filter, on: db), try ExecutionListReads.running(on: db),
                     try ExecutionListReads.jobNames(on: db))
                }
                let body = ExecutionsPage.render(
                    filter: filter, page: page, running: running, jobNames: names, viewer: viewer)
                return PageLayout.html(PageLayout.page(title: "Executions", section: .executions, viewer: viewer, body: body))
            }
        }
        router.get("/executions/running") { request, _ in
            await self.read(request) { _ in
                let running = try await self.reads.run { try ExecutionListReads.running(on: $0) }
                return PageLayout.html(ExecutionsPage.runningFragment(running))
            }
        }
        router.get("/executions/:id") { request, context in
            await self.read(request) { viewer in
                let id = try Self.executionID(context)
                guard let detail = try await self.reads.run({ try ExecutionDetailReads.detail(id: id, on: $0) }) else {
                    throw RefusedRequest(status: .notFound, message: "There is no job execution \(id).")
                }
                let samples = self.rates.add(id: id, now: detail.progress.now, read: detail.progress.read)
                let notice = Self.notice(formFields(request.uri.query ?? "")["done"], id: id)
                let body = ExecutionPage.render(
                    detail, samples: samples, viewer: viewer, jobKnown: self.jobs[detail.progress.jobName] != nil)
                return PageLayout.html(PageLayout.page(
                    title: "Execution \(id)", section: .executions, viewer: viewer, notice: notice, body: body))
            }
        }
        router.get("/executions/:id/live") { request, context in
            await self.read(request) { _ in
                let id = try Self.executionID(context)
                guard let progress = try await self.reads.run({ try PostgresJobRepositorySession(connection: $0).executionProgress(id: id) })
                else { throw RefusedRequest(status: .notFound, message: "There is no job execution \(id).") }
                let samples = self.rates.add(id: id, now: progress.now, read: progress.read)
                return PageLayout.html(
                    ExecutionPage.liveFragment(progress, samples: samples),
                    extra: progress.status.isRunning ? [:] : [HTTPField.Name("X-Live-Done")!: "1"])
            }
        }
        router.get("/executions/:id/partitions") { request, context in
            await self.read(request) { viewer in
                let (id, step) = try Self.partitionTarget(request, context)
                guard let page = try await self.reads.run({ try PartitionReads.page(executionID: id, step: step, on: $0) }) else {
                    throw RefusedRequest(status: .notFound, message: "There is no job execution \(id).")
                }
                guard page.total > 0 else {
                    throw RefusedRequest(status: .notFound, message: "Execution \(id) has no partitioned step named \(step).")
                }
                return PageLayout.html(PageLayout.page(
                    title: "Step \(step) of \(id)", section: .executions, viewer: viewer,
                    body: PartitionsPage.render(executionID: id, step: step, page: page)))
            }
        }
        router.get("/executions/:id/partitions/live") { request, context in
            await self.read(request) { _ in
                let (id, step) = try Self.partitionTarget(request, context)
                guard let page = try await self.reads.run({ try PartitionReads.page(executionID: id, step: step, on: $0) }) else {
                    throw RefusedRequest(status: .notFound, message: "There is no job execution \(id).")
                }
                return PageLayout.html(
                    PartitionsPage.fragment(executionID: id, page: page),
                    extra: page.executionStatus.isRunning ? [:] : [HTTPField.Name("X-Live-Done")!: "1"])
            }
        }
        router.get("/workers") { request, _ in
            await self.read(request) { viewer in
                let workers = try await self.reads.run { try WorkerReads.all(on: $0) }
                return PageLayout.html(PageLayout.page(
                    title: "Workers", section: .workers, viewer: viewer, body: WorkersPage.render(workers)))
            }
        }
        router.get("/workers/live") { request, _ in
            await self.read(request) { _ in
                PageLayout.html(WorkersPage.fragment(try await self.reads.run { try WorkerReads.all(on: $0) }))
            }
        }
        router.get("/jobs") { request, _ in
            await self.read(request) { viewer in try await self.jobsPage(viewer: viewer, form: nil, status: .ok) }
        }
        router.get("/audit") { request, _ in
            await self.read(request) { viewer in
                let text = formFields(request.uri.query ?? "")["before"]
                var before: Int64?
                if let text, !text.isEmpty {
                    guard let value = Int64(text), value > 0 else { throw BadRequest("before=\"\(text)\" is not an action id") }
                    before = value
                }
                let limit = 100
                let cursor = before
                let entries = try await self.reads.run { try AuditLog.recent(before: cursor, limit: limit + 1, on: $0) }
                let shown = Array(entries.prefix(limit))
                return PageLayout.html(PageLayout.page(
                    title: "Audit", section: .audit, viewer: viewer,
                    body: AuditPage.render(shown, next: entries.count > limit ? shown.last?.id : nil)))
            }
        }
        addActionRoutes(to: router)
        return router
    }

    func jobsPage(viewer: Viewer, form: JobsPage.LaunchForm?, status: HTTPResponse.Status) async throws -> Response {
        let jobs = configuration.jobs
        let last = try await reads.run { try JobReads.lastExecutions(of: jobs.map(\.name), on: $0) }
        return PageLayout.html(
            PageLayout.page(title: "Jobs", section: .jobs, viewer: viewer, body: JobsPage.render(jobs, last: last, viewer: viewer, form: form)),
            status: status)
    }

    /// `/login`: asks the browser for credentials, then goes back where the user was.
    func login(_ request: Request) -> Response {
        guard configuration.users.authenticate(authorization: request.headers[.authorization]) != nil else {
            return PageLayout.error(.unauthorized, "Sign in with your dashboard user name and secret.", viewer: Viewer(), extra: Self.challenge)
        }
        let target = formFields(request.uri.query ?? "")["return"] ?? "/executions"
        // Only a path of this site: never an open redirect.
        let safe = target.hasPrefix("/") && !target.hasPrefix("//") && !target.contains("\\") ? target : "/executions"
        return PageLayout.redirect(to: safe)
    }

    static func executionID(_ context: DashboardContext) throws -> Int64 {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else { throw BadRequest("\"\(text)\" is not an execution id: ids are positive whole numbers") }
        return id
    }

    static func partitionTarget(_ request: Request, _ context: DashboardContext) throws -> (Int64, String) {
        let id = try executionID(context)
        guard let step = formFields(request.uri.query ?? "")["step"], !step.isEmpty, step.count <= 100 else {
            throw BadRequest("name the partitioned step: ?step=<name>")
        }
        return (id, step)
    }

    /// The notice an action's redirect asks for (`?done=stop`): fixed texts only, nothing of the
    /// request is echoed.
    static func notice(_ done: String?, id: Int64) -> PageLayout.Notice? {
        switch done {
        case "stop": PageLayout.Notice(ok: true, text: "Execution \(id) is STOPPING: its steps stop at their next commit.")
        case "abandon": PageLayout.Notice(ok: true, text: "Execution \(id) is ABANDONED: it will never be restarted.")
        case "restart": PageLayout.Notice(ok: true, text: "Restarted: this is the new execution, running in the dashboard's process.")
        case "launch": PageLayout.Notice(ok: true, text: "Launched: the job runs in the dashboard's process.")
        default: nil
        }
    }
}
