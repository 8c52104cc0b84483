import Batch
import Foundation

/// The executions page: running ones (live), then the history with filters and keyset paging.
enum ExecutionsPage {
    static func render(
        filter: ExecutionFilter, page: ExecutionPageRows, running: [ExecutionRow], jobNames: [String], viewer: Viewer
    ) -> String {
        var html = "<h1>Executions</h1>"
        html += "<h2><span class=\"live-dot\"></span>Running now</h2>"
        html += "<div id=\"running\" data-live=\"/executions/running\">\(runningFragment(running))</div>"
        if viewer.mayAct {
            html += "<div class=\"actions\">" + PageLayout.actionForm(
                "/recover", label: "Recover abandoned runs", viewer: viewer, style: "quiet",
                confirm: "Mark FAILED every running execution whose launcher and workers are all gone?") + "</div>"
        }
        html += "<h2>History</h2>"
        html += filters(filter, jobNames: jobNames)
        let rows = page.rows
        let next = page.next
        html += table(rows, emptyText: page.exhausted ? "" : "No execution matches these filters.")
        if page.exhausted {
            html += "<p class=\"small muted\">Searched \(Format.count(ExecutionListReads.jobScanBudget)) executions"
                + " down to id \(next ?? 0) for this job; older ones may match: Older » goes on.</p>"
        }
        html += "<div class=\"pager\">"
        if filter.before != nil {
            html += "<a href=\"\(esc(link(filter, before: nil)))\">« Newest</a>"
        }
        if let next {
            html += "<a rel=\"next\" href=\"\(esc(link(filter, before: next)))\">Older »</a>"
        }
        html += "</div>"
        return html
    }

    static func runningFragment(_ rows: [ExecutionRow]) -> String {
        rows.isEmpty ? "<p class=\"muted\">Nothing is running.</p>" : table(rows, emptyText: "")
    }

    static func table(_ rows: [ExecutionRow], emptyText: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(esc(emptyText))</p>" }
        var html = """
            <div class="table-wrap"><table><thead><tr><th class="num">Id</th><th>Job</th><th>Status</th>
            <th class="wide">Exit code</th><th>Started (UTC)</th><th class="num">Duration</th>
            <th class="num wide">Read</th><th class="num">Written</th></tr></thead><tbody>
            """
        for row in rows {
            let duration = row.startTime.map { (row.endTime ?? Date()).timeIntervalSince($0) }
            html += """
                <tr><td class="num"><a href="/executions/\(row.id)">\(row.id)</a></td><td>\(esc(row.jobName))</td>
                <td>\(Format.badge(row.status))</td><td class="wide">\(esc(row.exitCode))</td>
                <td>\(Format.timeTag(row.startTime ?? row.createTime))</td><td class="num">\(Format.clock(duration))</td>
                <td class="num wide">\(Format.count(row.read))</td><td class="num">\(Format.count(row.written))</td></tr>
                """
        }
        return html + "</tbody></table></div>"
    }

    static func filters(_ filter: ExecutionFilter, jobNames: [String]) -> String {
        var html = "<form class=\"filters\" method=\"get\" action=\"/executions\">"
        html += "<label>Job<select name=\"job\"><option value=\"\">any</option>"
        for name in jobNames {
            html += "<option\(filter.job == name ? " selected" : "")>\(esc(name))</option>"
        }
        html += "</select></label><label>Status<select name=\"status\"><option value=\"\">any</option>"
        for status in BatchStatus.allCases {
            html += "<option\(filter.status == status ? " selected" : "")>\(status.rawValue)</option>"
        }
        html += "</select></label>"
        html += "<label>From (UTC)<input name=\"from\" placeholder=\"2026-12-01\" size=\"16\" value=\"\(esc(filter.from.map(Format.time) ?? ""))\"></label>"
        html += "<label>Until (UTC)<input name=\"until\" placeholder=\"2026-12-04 18:00\" size=\"16\" value=\"\(esc(filter.until.map(Format.time) ?? ""))\"></label>"
        html += "<button type=\"submit\">Filter</button> <a href=\"/executions\">clear</a></form>"
        return html
    }

    static func link(_ filter: ExecutionFilter, before: Int64?) -> String {
        var query: [String] = []
        if let job = filter.job { query.append("job=" + urlComponent(job)) }
        if let status = filter.status { query.append("status=" + status.rawValue) }
        if let from = filter.from { query.append("from=" + urlComponent(Format.time(from))) }
        if let until = filter.until { query.append("until=" + urlComponent(Format.time(until))) }
        if let before { query.append("before=\(before)") }
        return "/executions" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Reads the filters from a query string; a value that is not understood is an error that
    /// names it.
    static func parseFilter(_ fields: [String: String]) throws(BadRequest) -> ExecutionFilter {
        var filter = ExecutionFilter()
        if let job = fields["job"], !job.isEmpty {
            guard job.count <= 100 else { throw BadRequest("the job filter is longer than a job name can be (100)") }
            filter.job = job
        }
        if let text = fields["status"], !text.isEmpty {
            guard let status = BatchStatus(rawValue: text.uppercased()) else {
                throw BadRequest("unknown status \"\(text)\"; use one of \(BatchStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.status = status
        }
        for (name, keyPath) in [("from", \ExecutionFilter.from), ("until", \ExecutionFilter.until)] {
            if let text = fields[name], !text.isEmpty {
                guard let date = Format.parseTime(text) else {
                    throw BadRequest("\(name)=\"\(text)\" is not a time: write 2026-12-04 or 2026-12-04 18:30 (UTC)")
                }
                filter[keyPath: keyPath] = date
            }
        }
        if let text = fields["before"], !text.isEmpty {
            guard let before = Int64(text), before > 0 else { throw BadRequest("before=\"\(text)\" is not an execution id") }
            filter.before = before
        }
        return filter
    }
}

/// A request the dashboard cannot serve as asked (400), with the reason.
struct BadRequest: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
