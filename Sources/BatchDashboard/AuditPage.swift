import Foundation

/// The operator actions recorded in `batch_operator_action`, newest first.
enum AuditPage {
    static func render(_ entries: [AuditEntry], next: Int64?) -> String {
        var html = "<h1>Operator actions</h1>"
        html += entries.isEmpty ? "<p class=\"muted\">No action was taken through the dashboard yet.</p>" : table(entries)
        if let next { html += "<div class=\"pager\"><a rel=\"next\" href=\"/audit?before=\(next)\">Older »</a></div>" }
        return html
    }

    static func table(_ entries: [AuditEntry]) -> String {
        var html = """
            <div class="table-wrap"><table><thead><tr><th>When (UTC)</th><th>Who</th><th>Action</th><th>Execution</th>
            <th>Outcome</th><th>Message</th><th class="wide">Detail</th><th class="wide">From</th></tr></thead><tbody>
            """
        for entry in entries {
            let execution = entry.executionID.map { "<a href=\"/executions/\($0)\">\($0)</a>" } ?? "—"
            let outcome = entry.outcome == "done" ? "COMPLETED" : entry.outcome == "refused" ? "STOPPED" : "FAILED"
            html += "<tr><td>\(Format.timeTag(entry.at))</td><td>\(esc(entry.actor))</td><td>\(esc(entry.action))"
                + "\(entry.jobName.map { " <span class=\"muted\">\(esc($0))</span>" } ?? "")</td><td>\(execution)</td>"
                + "<td><span class=\"badge s-\(outcome.lowercased())\">\(esc(entry.outcome))</span></td>"
                + "<td class=\"wrap small\">\(esc(entry.message ?? ""))</td><td class=\"wide wrap small mono\">\(esc(entry.detail ?? ""))</td>"
                + "<td class=\"wide small\">\(esc(entry.client ?? ""))</td></tr>"
        }
        return html + "</tbody></table></div>"
    }
}
