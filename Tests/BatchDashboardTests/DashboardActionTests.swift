import BatchTestSupport
import Foundation
import Testing

/// Every action, carried out and refused; each recorded in batch_operator_action.
@Suite(.timeLimit(.minutes(2)))
struct DashboardActionTests {
    @Test("stop and abandon: done, refused, recorded")
    func stopAndAbandon() async throws {
        try await DashboardHarness.withDashboard { url, client in
            let running = try await DashboardHarness.execution(url, status: "STARTED")
            let failed = try await DashboardHarness.execution(url, status: "FAILED")
            let token = try await client.csrfToken()

            let stop = try await client.post("/executions/\(running)/stop", fields: ["csrf": token])
            #expect(stop.status == 303)
            #expect(stop.header("Location") == "/executions/\(running)?done=stop")
            #expect(try await DashboardHarness.status(url, running) == "STOPPING")
            #expect(try await client.get("/executions/\(running)?done=stop").text.contains("is STOPPING"))

            // As `swiftbatch stop`: stopping a STOPPING execution again is no error.
            #expect(try await client.post("/executions/\(running)/stop", fields: ["csrf": token]).status == 303)
            let completed = try await DashboardHarness.execution(url, status: "COMPLETED")
            let refused = try await client.post("/executions/\(completed)/stop", fields: ["csrf": token])
            #expect(refused.status == 409)
            #expect(refused.text.contains("is COMPLETED and is not running"))

            let abandon = try await client.post("/executions/\(failed)/abandon", fields: ["csrf": token])
            #expect(abandon.status == 303)
            #expect(try await DashboardHarness.status(url, failed) == "ABANDONED")
            #expect(try await client.post("/executions/\(completed)/abandon", fields: ["csrf": token]).status == 409)
            #expect(try await client.post("/executions/999999/stop", fields: ["csrf": token]).status == 404)

            let audit = try await DashboardHarness.audit(url)
            #expect(audit.map(\.action) == ["stop", "stop", "stop", "abandon", "abandon"])
            #expect(audit.map(\.outcome) == ["done", "done", "refused", "done", "refused"])
            #expect(audit[2].execution == completed)
            #expect(audit.allSatisfy { $0.actor == "alice" })
            let page = try await client.get("/audit").text
            #expect(page.contains("is STOPPING"))
        }
    }

    @Test("actions refused: no auth, a viewer, no or a wrong token, another origin, not a form")
    func refusals() async throws {
        try await DashboardHarness.withDashboard(openRead: true) { url, client in
            let running = try await DashboardHarness.execution(url, status: "STARTED")
            let token = try await client.csrfToken()
            let stop = "/executions/\(running)/stop"
            #expect(try await client.post(stop, fields: ["csrf": token], auth: nil).status == 401)
            #expect(try await client.post(stop, fields: ["csrf": token], auth: DashboardHarness.basic("alice", "bad-secret-000")).status == 401)
            #expect(try await client.post(stop, fields: ["csrf": token], auth: DashboardHarness.viewerAuth).status == 403)
            let noToken = try await client.post(stop, fields: [:])
            #expect(noToken.status == 403)
            #expect(noToken.text.contains("security token"))
            #expect(try await client.post(stop, fields: ["csrf": String(token.reversed())]).status == 403)
            let crossSite = try await client.post(stop, fields: ["csrf": token], origin: "http://evil.example")
            #expect(crossSite.status == 403)
            #expect(crossSite.text.contains("another site"))
            let json = try await client.post(stop, fields: ["csrf": token], contentType: "application/json")
            #expect(json.status == 415)
            #expect(try await client.post("/executions/abc/stop", fields: ["csrf": token]).status == 400)
            #expect(try await DashboardHarness.status(url, running) == "STARTED", "nothing refused changed anything")
            #expect(try await DashboardHarness.audit(url).isEmpty, "refused before acting: nothing to record")
        }
    }

    @Test("launch validates like the CLI, runs the job, and restart resumes a stopped one")
    func launchAndRestart() async throws {
        try await DashboardHarness.withDashboard { url, client in
            let token = try await client.csrfToken()
            let bad = try await client.post("/jobs/launch", fields: ["csrf": token, "job": "slow", "parameters": "ticks=many"])
            #expect(bad.status == 400)
            #expect(bad.text.contains("ticks"))
            #expect(bad.text.contains("ticks=many"), "the form comes back with what was typed")
            #expect(try await client.post("/jobs/launch", fields: ["csrf": token, "job": "nope"]).status == 400)

            let launch = try await client.post("/jobs/launch", fields: ["csrf": token, "job": "slow", "parameters": "ticks=2000"])
            #expect(launch.status == 303)
            let location = try #require(launch.header("Location"))
            let id = try #require(Self.executionID(in: location))
            #expect(location.hasSuffix("?done=launch"))

            let again = try await client.post("/jobs/launch", fields: ["csrf": token, "job": "slow", "parameters": "ticks=2000"])
            #expect(again.status == 409, "the same instance is running")
            #expect(again.text.contains("already running"))

            #expect(try await client.post("/executions/\(id)/restart", fields: ["csrf": token]).status == 409)
            #expect(try await client.post("/executions/\(id)/stop", fields: ["csrf": token]).status == 303)
            try await waitFor("execution \(id) ends STOPPED", timeout: .seconds(30)) {
                try await DashboardHarness.status(url, id) == "STOPPED"
            }
            let restart = try await client.post("/executions/\(id)/restart", fields: ["csrf": token])
            #expect(restart.status == 303)
            let restarted = try #require(Self.executionID(in: restart.header("Location") ?? ""))
            #expect(restarted != id)
            #expect(try await client.post("/executions/\(restarted)/stop", fields: ["csrf": token]).status == 303)
            try await waitFor("execution \(restarted) ends STOPPED", timeout: .seconds(30)) {
                try await DashboardHarness.status(url, restarted) == "STOPPED"
            }
            let recover = try await client.post("/recover", fields: ["csrf": token])
            #expect(recover.status == 200)
            #expect(recover.text.contains("<h1>Recover</h1>"))

            let actions = try await DashboardHarness.audit(url).map { "\($0.action) \($0.outcome)" }
            #expect(actions.first == "launch done")
            #expect(actions.last == "recover done")
            #expect(actions.contains("launch done"))
            #expect(actions.contains("restart done"))
            #expect(actions.contains("launch refused"))
        }
    }

    static func executionID(in location: String) -> Int64? {
        location.firstMatch(of: /\/executions\/(\d+)/).flatMap { Int64($0.output.1) }
    }
}
