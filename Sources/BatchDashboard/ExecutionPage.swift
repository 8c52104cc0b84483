import Batch
import BatchPostgres
import Foundation

/// The page of one execution: its progress (live while it runs), parameters, steps and flow
/// path, skips, launcher, restarts and the actions taken on it.
enum ExecutionPage {
    static func render(_ detail: ExecutionDetail, samples: [(time: Date, read: Int64)], viewer: Viewer, jobKnown: Bool) -> String {
        let progress = detail.progress
        var html = "<h1>Execution \(progress.executionID) · \(esc(progress.jobName)) \(Format.badge(progress.status))</h1>"
        html += actions(progress, viewer: viewer, jobKnown: jobKnown)
        let live = progress.status.isRunning
        html += "<div id=\"progress\"\(live ? " data-live=\"/executions/\(progress.executionID)/live\" data-reload-when-done" : "")>"
        html += liveFragment(progress, samples: samples)
        html += "</div>"

        html += "<h2>Execution</h2><div class=\"card grid\">"
        html += "<div><span>Instance</span>\(detail.instanceID)</div>"
        html += "<div><span>Created (UTC)</span>\(Format.timeTag(detail.createTime))</div>"
        html += "<div><span>Started</span>\(Format.timeTag(progress.startTime))</div>"
        html += "<div><span>Ended</span>\(Format.timeTag(progress.endTime))</div>"
        html += "<div><span>Last updated</span>\(Format.timeTag(detail.lastUpdated))</div>"
        html += "<div><span>Exit code</span>\(esc(progress.exitCode.isEmpty ? "—" : progress.exitCode))</div>"
        if let launcher = detail.launcher {
            html += "<div><span>Launcher</span>\(esc(launcher.host)) pid \(launcher.pid)</div>"
            if progress.status.isRunning {
                html += "<div><span>Launcher heartbeat</span>\(Format.seconds(launcher.heartbeatAgeSeconds)) ago"
                    + (launcher.leaseRemainingSeconds < 0 ? " <span class=\"badge s-failed\">lease expired</span>" : "") + "</div>"
            }
            if launcher.attachments > 0 { html += "<div><span>Taken over</span>\(launcher.attachments) times</div>" }
        }
        html += "</div>"
        if !progress.exitMessage.isEmpty {
            html += "<h2>Exit message</h2><pre class=\"card mono wrap\">\(esc(progress.exitMessage))</pre>"
        }

        html += "<h2>Parameters</h2>"
        if let parameters = detail.parameters {
            if parameters.isEmpty {
                html += "<p class=\"muted\">No parameters.</p>"
            } else {
                html += "<div class=\"table-wrap\"><table><thead><tr><th>Name</th><th>Value</th><th>Type</th><th>Identifying</th></tr></thead><tbody>"
                for parameter in parameters {
                    html += "<tr><td>\(esc(parameter.name))</td><td class=\"mono wrap\">\(esc(parameter.value))</td>"
                        + "<td class=\"muted small\">\(esc(shortType(parameter.type)))</td><td>\(parameter.identifying ? "yes" : "no")</td></tr>"
                }
                html += "</tbody></table></div>"
            }
        } else {
            html += "<p class=\"muted\">Hidden: the dashboard's database role may not read job parameters (see sql/roles.sql).</p>"
        }

        if detail.instanceExecutions.count > 1 {
            html += "<h2>Executions of this instance</h2><div class=\"flow\">"
            html += detail.instanceExecutions.map { execution in
                let label = "\(execution.id) \(Format.badge(execution.status))"
                return execution.id == progress.executionID ? "<strong>\(label)</strong>" : "<a href=\"/executions/\(execution.id)\">\(label)</a>"
            }.joined(separator: "<span class=\"arrow\">→</span>")
            html += "</div>"
        }

        html += "<h2>Skipped items</h2>"
        if detail.skipTotal == 0 {
            html += "<p class=\"muted\">None.</p>"
        } else {
            if detail.skipTotal > Int64(detail.skips.count) {
                html += "<p class=\"muted\">The first \(detail.skips.count) of \(Format.count(detail.skipTotal)).</p>"
            }
            html += "<div class=\"table-wrap\"><table><thead><tr><th>Step</th><th>Phase</th><th>Item</th><th>Reason</th><th class=\"wide\">When (UTC)</th></tr></thead><tbody>"
            for skip in detail.skips {
                html += "<tr><td>\(esc(skip.stepName))</td><td>\(esc(skip.phase))</td><td class=\"mono\">\(esc(skip.itemKey))</td>"
                    + "<td class=\"wrap\">\(esc(skip.reason))</td><td class=\"wide\">\(Format.timeTag(skip.createdAt))</td></tr>"
            }
            html += "</tbody></table></div>"
        }

        if !detail.actions.isEmpty {
            html += "<h2>Operator actions</h2>" + AuditPage.table(detail.actions)
        }
        return html
    }

    /// What the live part shows, as a fragment: the figures the CLI's progress line shows, the
    /// flow path and the steps.
    static func liveFragment(_ progress: ExecutionProgress, samples: [(time: Date, read: Int64)]) -> String {
        let step = progress.currentStep
        var html = "<div class=\"card grid\">"
        html += "<div><span>Status</span>\(Format.badge(progress.status))</div>"
        if let step {
            html += "<div><span>Step</span>\(esc(step.name))</div>"
            if let partitions = step.partitions {
                html += "<div><span>Partitions done</span>\(partitions.done) / \(partitions.total)"
                    + (partitions.failed > 0 ? " <span class=\"badge s-failed\">\(partitions.failed) failed</span>" : "") + "</div>"
            }
        }
        html += "<div><span>Read</span>\(Format.count(progress.read))</div>"
        html += "<div><span>Written</span>\(Format.count(progress.written))</div>"
        html += "<div><span>Items/s</span>\(Format.rate(progress.itemsPerSecond(samples: samples)))</div>"
        html += "<div><span>Elapsed</span>\(Format.clock(progress.elapsedSeconds))</div>"
        if progress.status.isRunning {
            html += "<div><span>ETA</span>\(Format.clock(progress.estimatedSecondsRemaining))</div>"
        }
        html += "</div>"
        if progress.status.isRunning, let partitions = step?.partitions, partitions.total > 0 {
            html += "<progress max=\"\(partitions.total)\" value=\"\(partitions.done)\" aria-label=\"partitions done\"></progress>"
        }

        html += "<h2>Flow path</h2>"
        if progress.steps.isEmpty {
            html += "<p class=\"muted\">No step has run yet.</p>"
        } else {
            html += "<div class=\"flow\">" + progress.steps.map { "\(esc($0.name)) \(Format.badge($0.status))" }
                .joined(separator: "<span class=\"arrow\">→</span>") + "</div>"
            html += "<h2>Steps</h2><div class=\"table-wrap\"><table><thead><tr><th>Step</th><th>Status</th>"
                + "<th class=\"num\">Read</th><th class=\"num\">Written</th><th class=\"num wide\">Filtered</th><th class=\"num\">Skipped</th>"
                + "<th class=\"num wide\">Commits</th><th class=\"num wide\">Rollbacks</th><th class=\"num\">Duration</th>"
                + "<th>Partitions</th><th>Exit message</th></tr></thead><tbody>"
            for step in progress.steps {
                let counts = step.counts
                let duration = step.startTime.map { (step.endTime ?? progress.now).timeIntervalSince($0) }
                let name: String
                if step.partitions != nil {
                    name = "<a href=\"/executions/\(progress.executionID)/partitions?step=\(urlComponent(step.name))\">\(esc(step.name))</a>"
                } else {
                    name = esc(step.name)
                }
                var partitions = "—"
                if let tally = step.partitions {
                    partitions = "\(tally.done)/\(tally.total)"
                    if tally.running > 0 { partitions += " · \(tally.running) running" }
                    if tally.failed > 0 { partitions += " · <span class=\"s-failed\">\(tally.failed) failed</span>" }
                }
                html += "<tr\(step.status == .failed ? " class=\"fail\"" : "")><td>\(name)</td><td>\(Format.badge(step.status))</td>"
                    + "<td class=\"num\">\(Format.count(counts.read))</td><td class=\"num\">\(Format.count(counts.write))</td>"
                    + "<td class=\"num wide\">\(Format.count(counts.filter))</td>"
                    + "<td class=\"num\">\(Format.count(counts.readSkip + counts.processSkip + counts.writeSkip))</td>"
                    + "<td class=\"num wide\">\(Format.count(counts.commit))</td><td class=\"num wide\">\(Format.count(counts.rollback))</td>"
                    + "<td class=\"num\">\(Format.clock(duration))</td><td>\(partitions)</td>"
                    + "<td class=\"wrap small\">\(esc(String(step.exitMessage.prefix(400))))</td></tr>"
            }
            html += "</tbody></table></div>"
        }
        return html
    }

    static func actions(_ progress: ExecutionProgress, viewer: Viewer, jobKnown: Bool) -> String {
        guard viewer.mayAct else {
            return viewer.user == nil ? "<p class=\"small muted\"><a href=\"/login?return=/executions/\(progress.executionID)\">Sign in</a> to act on it.</p>" : ""
        }
        let base = "/executions/\(progress.executionID)"
        var forms: [String] = []
        switch progress.status {
        case .starting, .started:
            forms.append(PageLayout.actionForm(base + "/stop", label: "Stop", viewer: viewer, style: "danger"))
        case .failed, .stopped:
            if jobKnown {
                forms.append(PageLayout.actionForm(base + "/restart", label: "Restart", viewer: viewer))
            }
            forms.append(PageLayout.actionForm(
                base + "/abandon", label: "Abandon", viewer: viewer, style: "quiet",
                confirm: "Abandon execution \(progress.executionID)? It can never be restarted."))
        case .unknown:
            forms.append(PageLayout.actionForm(
                base + "/abandon", label: "Abandon", viewer: viewer, style: "quiet",
                confirm: "Abandon execution \(progress.executionID)? It can never be restarted."))
        default:
            break
        }
        if forms.isEmpty { return "" }
        var html = "<div class=\"actions\">" + forms.joined() + "</div>"
        if (progress.status == .failed || progress.status == .stopped) && !jobKnown {
            html += "<p class=\"small muted\">Restart it with the executable that has the job \(esc(progress.jobName)): this dashboard does not.</p>"
        }
        return html
    }

    /// `java.lang.Long` → `Long`.
    static func shortType(_ type: String) -> String {
        type.split(separator: ".").last.map(String.init) ?? type
    }
}
