import BatchDashboard
import BatchTestSupport
import Foundation
import Testing

/// The dashboard in a real headless Chromium (Debian's `chromium`), as a person uses it: the
/// pages during a run, the progress updating in place, a click on Stop, the execution ending
/// STOPPED. Screenshots of the main pages are kept under `dashboard-screenshots/` (gitignored).
@Suite(.timeLimit(.minutes(3)))
struct BrowserTests {
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test("in Chromium: open the pages during a run, click Stop, see the execution end STOPPED",
          .enabled(if: chromium != nil, "needs Debian's chromium (apt-get install chromium)"))
    func stopFromTheBrowser() async throws {
        let chromium = try #require(Self.chromium)
        try await TestDatabase.withFreshDatabase { url in
            try await DashboardHarness.seed(url, executions: 200)
            let partitioned = try await DashboardHarness.execution(url, status: "STARTED")
            try await DashboardHarness.serve(DashboardHarness.configuration(url)) { client in
                let base = client.base
                // A run to stop: launched through the dashboard, as an operator would.
                let launched = try await client.post(
                    "/jobs/launch", fields: ["csrf": try await client.csrfToken(), "job": "slow", "parameters": "ticks=3000"])
                let location = try #require(launched.header("Location"))
                let execution = try #require(location.firstMatch(of: /\/executions\/(\d+)/).map { String($0.output.1) })

                let shots = DashboardHarness.root.appendingPathComponent("dashboard-screenshots").path
                let script = DashboardHarness.root.appendingPathComponent("scripts/lib/dashboard-browser.py").path
                let browser = try ChildProcess(
                    "/usr/bin/env",
                    ["python3", script, "--base", base, "--auth", DashboardHarness.operatorAuth, "--execution", execution,
                     "--partitioned", String(partitioned), "--shots", shots, "--chromium", chromium],
                    mergeOutput: false)
                let exit = try await browser.wait()
                #expect(exit == 0, "the browser run failed: \(browser.output)\n\(browser.errorOutput.suffix(3000))")
                let seen = browser.output
                #expect(seen.contains("\"live_update_without_reload\": true"), "\(seen)")
                #expect(seen.contains("\"shown_stopped\": true"), "\(seen)")
                #expect(try await DashboardHarness.status(url, Int64(execution)!) == "STOPPED")
                let audit = try await DashboardHarness.audit(url).map { "\($0.actor) \($0.action) \($0.outcome)" }
                #expect(audit == ["alice launch done", "alice stop done"])
                for name in ["executions", "execution-running", "execution-stopped", "partitions", "workers", "jobs", "executions-phone"] {
                    #expect(FileManager.default.fileExists(atPath: "\(shots)/\(name).png"), "screenshot \(name)")
                }
            }
        }
    }
}

