import BatchTestSupport
import Foundation
import Testing

/// Every read route, as a browser or a script sees it: content, status codes, refusals.
@Suite(.timeLimit(.minutes(2)))
struct DashboardPageTests {
    @Test("every page and fragment answers 200 with what it is about")
    func pages() async throws {
        try await DashboardHarness.withDashboard { url, client in
            let running = try await DashboardHarness.execution(url, status: "STARTED")
            let failed = try await DashboardHarness.execution(url, status: "FAILED")

            let list = try await client.get("/executions")
            #expect(list.status == 200)
            #expect(list.header("Content-Type") == "text/html; charset=utf-8")
            #expect(list.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
            #expect(list.text.contains("href=\"/executions/\(running)\""))
            #expect(list.text.contains("data-live=\"/executions/running\""))
            // A running partitioned step counts its partitions so far (48 x 50,000 done, 8 under way).
            #expect(try await client.get("/executions/running").text.contains("2\u{202F}686\u{202F}000"))

            let filtered = try await client.get("/executions?status=FAILED&job=billing")
            #expect(filtered.status == 200)
            #expect(!filtered.text.contains("s-completed"), "only FAILED rows in the history table")
            #expect(filtered.text.contains("s-failed"))

            let detail = try await client.get("/executions/\(failed)")
            #expect(detail.status == 200)
            #expect(detail.text.contains("value out of range"), "the exit message")
            #expect(detail.text.contains("run.id"), "the parameters")
            #expect(detail.text.contains("Flow path"))
            #expect(detail.text.contains("action=\"/executions/\(failed)/abandon\""), "an operator sees the actions")

            let live = try await client.get("/executions/\(running)")
            #expect(live.text.contains("data-live=\"/executions/\(running)/live\""))
            #expect(live.text.contains("action=\"/executions/\(running)/stop\""))
            #expect(live.text.contains("ETA"))

            let fragment = try await client.get("/executions/\(running)/live")
            #expect(fragment.status == 200)
            #expect(fragment.header("X-Live-Done") == nil, "still running")
            #expect(!fragment.text.contains("<html"), "a fragment, not a page")
            let ended = try await client.get("/executions/\(failed)/live")
            #expect(ended.header("X-Live-Done") == "1")

            let partitions = try await client.get("/executions/\(running)/partitions?step=transform")
            #expect(partitions.status == 200)
            #expect(partitions.text.contains("<svg class=\"chart\""))
            #expect(partitions.text.contains("straggler"))
            #expect(partitions.text.contains("unknown currency"), "the failed partition's error")
            let failedRow = try #require(partitions.text.range(of: ">p48<"))
            let completedRow = try #require(partitions.text.range(of: ">p0<"))
            #expect(failedRow.lowerBound < completedRow.lowerBound, "failed partitions come first")
            #expect(try await client.get("/executions/\(running)/partitions/live?step=transform").status == 200)

            let workers = try await client.get("/workers")
            #expect(workers.text.contains("etl-host-1:4101:a1b2"))
            #expect(workers.text.contains(">late<"), "a worker 70 s silent on a 30 s lease is late")
            #expect(workers.text.contains(">gone<"))
            #expect(try await client.get("/workers/live").status == 200)

            let jobs = try await client.get("/jobs")
            #expect(jobs.text.contains("ticks"), "the job's parameters")
            #expect(jobs.text.contains("action=\"/jobs/launch\""))

            #expect(try await client.get("/audit").status == 200)
            let css = try await client.get("/static/dashboard.css", auth: nil)
            #expect(css.status == 200)
            #expect(css.header("Content-Type") == "text/css; charset=utf-8")
            #expect(try await client.get("/static/live.js", auth: nil).text.contains("X-Live-Done"))
            let root = try await client.get("/")
            #expect(root.status == 303)
            #expect(root.header("Location") == "/executions")
        }
    }

    @Test("paging walks the history by id, newest first, without repeating a row")
    func paging() async throws {
        try await DashboardHarness.withDashboard(executions: 120) { _, client in
            var seen: [Int64] = []
            var next: String? = "/executions"
            while let uri = next {
                let page = try await client.get(uri).text
                let history = String(page[try #require(page.range(of: "<h2>History</h2>")).upperBound...])
                let ids = history.matches(of: /href="\/executions\/(\d+)"/).compactMap { Int64($0.output.1) }
                seen += ids
                next = history.firstMatch(of: /rel="next" href="([^"]+)"/).map { String($0.output.1).replacingOccurrences(of: "&amp;", with: "&") }
            }
            #expect(seen.count == 121)
            #expect(seen == seen.sorted(by: >))
        }
    }

    @Test("a job filter whose matches are rare searches a bounded stretch per page, then goes on")
    func jobScanBudget() async throws {
        // The generated history has no run of the job "slow": its filter examines 4,000
        // executions, says so, and the next page searches the remaining 501.
        try await DashboardHarness.withDashboard(executions: 4500) { _, client in
            let first = try await client.get("/executions?job=slow")
            #expect(first.status == 200)
            #expect(first.text.contains("Searched 4\u{202F}000 executions"), "the page says how far it searched")
            let next = try #require(first.text.firstMatch(of: /rel="next" href="([^"]+)"/).map {
                String($0.output.1).replacingOccurrences(of: "&amp;", with: "&")
            })
            let second = try await client.get(next)
            #expect(second.status == 200)
            #expect(second.text.contains("No execution matches"), "the rest of the history, searched to its end")
            #expect(!second.text.contains("rel=\"next\""))

            // Job names cycle over 5 and ABANDONED is every 100th execution (g % 100 = 99):
            // billing (g % 5 = 1) is never ABANDONED, nightly-report (g % 5 = 4) always is. The
            // status index gives only the 45 ABANDONED ones: no budget is reached.
            let never = try await client.get("/executions?job=billing&status=ABANDONED").text
            #expect(never.contains("No execution matches") && !never.contains("Searched"))
            let found = try await client.get("/executions?job=nightly-report&status=ABANDONED").text
            #expect(found.matches(of: /s-abandoned/).count == 45, "all 45, in one page: ABANDONED is indexed")
        }
    }

    @Test("no credentials, wrong ones, or open reading")
    func authentication() async throws {
        try await DashboardHarness.withDashboard { _, client in
            let anonymous = try await client.get("/executions", auth: nil)
            #expect(anonymous.status == 401)
            #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Basic realm=") == true)
            #expect(try await client.get("/executions", auth: DashboardHarness.basic("alice", "wrong-secret-123")).status == 401)
            #expect(try await client.get("/executions", auth: DashboardHarness.basic("mallory", "alice-secret-123")).status == 401)
            #expect(try await client.get("/executions", auth: "Bearer alice-secret-123").status == 200)
            let viewer = try await client.get("/jobs", auth: DashboardHarness.viewerAuth)
            #expect(viewer.status == 200)
            #expect(!viewer.text.contains("name=\"csrf\""), "a viewer gets no action forms")
            #expect(try await client.get("/login").status == 303)
            #expect(try await client.get("/login", auth: nil).status == 401)
            let outside = try await client.get("/login?return=//evil.example/")
            #expect(outside.header("Location") == "/executions", "never an open redirect")
        }
        try await DashboardHarness.withDashboard(openRead: true) { url, client in
            let running = try await DashboardHarness.execution(url, status: "STARTED")
            let page = try await client.get("/executions/\(running)", auth: nil)
            #expect(page.status == 200)
            #expect(!page.text.contains("/stop\""), "anonymous readers get no actions")
            #expect(page.text.contains("Sign in"))
            #expect(try await client.get("/executions", auth: DashboardHarness.basic("alice", "nope-nope-nope")).status == 401)
        }
    }

    @Test("bad parameters are refused with a message that names them")
    func badParameters() async throws {
        try await DashboardHarness.withDashboard { _, client in
            for (uri, expected) in [
                ("/executions/abc", "is not an execution id"), ("/executions/-4", "is not an execution id"),
                ("/executions?status=DONE", "unknown status"), ("/executions?from=yesterday", "is not a time"),
                ("/executions?until=2026-13-01", "is not a time"), ("/executions?before=x", "is not an execution id"),
                ("/executions/1/partitions", "name the partitioned step"), ("/audit?before=0", "is not an action id"),
            ] {
                let response = try await client.get(uri)
                #expect(response.status == 400, "\(uri)")
                #expect(response.text.contains(expected), "\(uri)")
            }
            #expect(try await client.get("/executions/999999").status == 404)
            #expect(try await client.get("/executions/1/partitions?step=nope").status == 404)
            #expect(try await client.get("/executions/999999/live").status == 404)
            let injected = try await client.get("/executions?job=%27%3B%20DROP%20TABLE%20batch_job_execution%3B--")
            #expect(injected.status == 200, "a job name is a bound value, never SQL")
            #expect(injected.text.contains("No execution matches"))
        }
    }
}
