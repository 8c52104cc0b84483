import Batch
import Foundation

/// The jobs this dashboard knows, with their parameters, steps, last execution, and for an
/// operator a form to launch each.
enum JobsPage {
    static func render(_ jobs: [Job], last: [String: ExecutionRow], viewer: Viewer, form: LaunchForm? = nil) -> String {
        var html = "<h1>Jobs</h1>"
        if jobs.isEmpty {
            return html + "<p class=\"muted\">This dashboard was started without jobs: it shows the history, but cannot launch or restart.</p>"
        }
        for job in jobs.sorted(by: { $0.name < $1.name }) {
            html += "<section class=\"card\" id=\"job-\(esc(job.name))\"><h2>\(esc(job.name))</h2>"
            if !job.summary.isEmpty { html += "<p>\(esc(job.summary))</p>" }
            if let flow = job.flow {
                html += "<p class=\"small\"><span class=\"muted\">Flow:</span> \(esc(flow.summary))</p>"
            } else {
                html += "<p class=\"small\"><span class=\"muted\">Steps:</span> \(esc(job.steps.map(\.name).joined(separator: " → ")))</p>"
            }
            if let row = last[job.name] {
                html += "<p class=\"small\"><span class=\"muted\">Last execution:</span> <a href=\"/executions/\(row.id)\">\(row.id)</a> "
                    + "\(Format.badge(row.status)) \(Format.timeTag(row.startTime ?? row.createTime)) · "
                    + "<a href=\"/executions?job=\(urlComponent(job.name))\">history</a></p>"
            } else {
                html += "<p class=\"small muted\">Never ran.</p>"
            }
            if !job.parameterSpecs.isEmpty {
                html += "<div class=\"table-wrap\"><table><thead><tr><th>Parameter</th><th>Type</th><th>Required</th><th>Default</th><th class=\"wide\">Identifying</th><th>Help</th></tr></thead><tbody>"
                for spec in job.parameterSpecs {
                    html += "<tr><td class=\"mono\">\(esc(spec.name))</td><td>\(spec.kind.rawValue)</td><td>\(spec.isRequired ? "yes" : "no")</td>"
                        + "<td class=\"mono\">\(esc(spec.defaultValue.map { "\($0)" } ?? "—"))</td>"
                        + "<td class=\"wide\">\(spec.identifying ? "yes" : "no")</td><td class=\"wrap small\">\(esc(spec.help))</td></tr>"
                }
                html += "</tbody></table></div>"
            }
            for problem in job.definitionProblems {
                html += "<p class=\"notice bad\">Badly defined: \(esc(problem))</p>"
            }
            if viewer.mayAct, let token = viewer.csrfToken {
                let mine = form?.job == job.name ? form : nil
                html += "<form method=\"post\" action=\"/jobs/launch\"><input type=\"hidden\" name=\"csrf\" value=\"\(esc(token))\">"
                html += "<input type=\"hidden\" name=\"job\" value=\"\(esc(job.name))\">"
                if let error = mine?.error { html += "<div class=\"notice bad\">\(esc(error))</div>" }
                let placeholder = job.parameterSpecs.map { "\($0.name)=…" }.joined(separator: "\n")
                html += "<label class=\"small muted\" for=\"params-\(esc(job.name))\">Parameters, one name=value[,type[,identifying]] a line</label>"
                html += "<textarea id=\"params-\(esc(job.name))\" name=\"parameters\" placeholder=\"\(esc(placeholder))\">\(esc(mine?.parameters ?? ""))</textarea>"
                html += "<div class=\"actions\"><label class=\"small\"><input type=\"checkbox\" name=\"next\" value=\"1\"\(mine?.next == true ? " checked" : "")> new instance (--next)</label>"
                html += "<button type=\"submit\">Launch \(esc(job.name))</button></div></form>"
            }
            html += "</section>"
        }
        return html
    }

    /// A launch form sent back with what was typed and why it was refused.
    struct LaunchForm {
        var job: String
        var parameters: String
        var next: Bool
        var error: String?
    }
}
