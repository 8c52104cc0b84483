import Batch
import Foundation

/// A partitioned step: every partition with its state, owner, attempt, rows, rate and
/// elapsed time (failed ones and stragglers first), and the throughput chart.
enum PartitionsPage {
    static func render(executionID: Int64, step: String, page: PartitionPage) -> String {
        let live = page.executionStatus.isRunning
        var html = "<h1>Step \(esc(step)) · <a href=\"/executions/\(executionID)\">execution \(executionID)</a> · \(esc(page.jobName))</h1>"
        let source = "/executions/\(executionID)/partitions/live?step=\(urlComponent(step))"
        html += "<div id=\"partitions\"\(live ? " data-live=\"\(esc(source))\"" : "")>"
        html += fragment(executionID: executionID, page: page)
        html += "</div>"
        return html
    }

    static func fragment(executionID: Int64, page: PartitionPage) -> String {
        var html = "<div class=\"card grid\"><div><span>Partitions</span>\(Format.count(page.total))</div>"
        for (state, count) in page.stateCounts {
            html += "<div><span>\(esc(state.lowercased()))</span>\(Format.count(count))</div>"
        }
        html += "</div>"
        html += "<h2>Throughput</h2><div class=\"card\">\(ThroughputChart.svg(spans: page.spans, total: page.total, now: page.now))</div>"
        html += "<h2>Partitions</h2>"
        if page.total > page.rows.count {
            html += "<p class=\"small muted\">The first \(page.rows.count) of \(Format.count(page.total)): failed ones, stragglers and running ones come first.</p>"
        }
        html += """
            <div class="table-wrap"><table><thead><tr><th>Partition</th><th>State</th><th>Owner</th><th class="num">Attempt</th>
            <th class="num">Read</th><th class="num wide">Written</th><th class="num">Rows/s</th><th class="num">Elapsed</th>
            <th class="num wide">Lease left</th><th>Note</th></tr></thead><tbody>
            """
        for row in page.rows {
            let css = row.state == "FAILED" ? " class=\"fail\"" : row.straggler ? " class=\"flag\"" : ""
            var note = row.straggler ? "<span class=\"badge s-stale\">straggler</span> " : ""
            if let error = row.lastError, !error.isEmpty { note += esc(String(error.prefix(300))) }
            html += "<tr\(css)><td>\(esc(row.name))</td><td>\(Format.badge(row.state))</td>"
                + "<td class=\"mono small\">\(esc(row.owner ?? "—"))</td>"
                + "<td class=\"num\">\(row.attempt)\(row.maxAttempts > 0 ? "/\(row.maxAttempts)" : "")</td>"
                + "<td class=\"num\">\(Format.count(row.read))</td><td class=\"num wide\">\(Format.count(row.written))</td>"
                + "<td class=\"num\">\(Format.rate(row.readPerSecond))</td><td class=\"num\">\(Format.clock(row.elapsedSeconds))</td>"
                + "<td class=\"num wide\">\(row.leaseRemainingSeconds.map { Format.seconds($0) } ?? "—")</td>"
                + "<td class=\"wrap small\">\(note)</td></tr>"
        }
        html += "</tbody></table></div>"
        return html
    }
}
