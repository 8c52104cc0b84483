import Foundation

/// Every registered worker: live, late (stale: its leases ran out) or gone (dead or stopped).
enum WorkersPage {
    static func render(_ workers: [WorkerRow]) -> String {
        "<h1>Workers</h1><div id=\"workers\" data-live=\"/workers/live\">\(fragment(workers))</div>"
    }

    static func label(_ health: String) -> String {
        switch health {
        case "live": "live"
        case "stale": "late"
        case "dead": "gone"
        default: "stopped"
        }
    }

    static func fragment(_ workers: [WorkerRow]) -> String {
        guard !workers.isEmpty else {
            return "<p class=\"muted\">No worker has registered. Start one with <code>swiftbatch worker</code>.</p>"
        }
        var tally: [String: Int] = [:]
        for worker in workers { tally[label(worker.health), default: 0] += 1 }
        var html = "<div class=\"card grid\">"
        for name in ["live", "late", "gone", "stopped"] {
            html += "<div><span>\(name)</span>\(tally[name] ?? 0)</div>"
        }
        html += "<div><span>Slots (live)</span>\(workers.filter { $0.health == "live" }.reduce(0) { $0 + $1.concurrency })</div>"
        html += "<div><span>Partitions held</span>\(workers.reduce(0) { $0 + $1.partitionsHeld })</div></div>"
        html += """
            <div class="table-wrap"><table><thead><tr><th>Worker</th><th>Health</th><th class="num">Slots</th>
            <th class="num">Held</th><th class="num">Heartbeat age</th><th class="num">Rows/s</th><th class="wide">Steps</th>
            <th class="wide">Started (UTC)</th><th>Holding</th></tr></thead><tbody>
            """
        for worker in workers {
            let css = worker.health == "stale" || worker.expiredLeases > 0 ? " class=\"flag\"" : worker.health == "dead" ? " class=\"fail\"" : ""
            let healthClass = worker.health == "stopped" ? "stopped-worker" : worker.health
            html += "<tr\(css)><td class=\"mono small\">\(esc(worker.id))</td>"
                + "<td><span class=\"badge s-\(healthClass)\">\(label(worker.health))</span></td>"
                + "<td class=\"num\">\(worker.concurrency)</td>"
                + "<td class=\"num\">\(worker.partitionsHeld)\(worker.expiredLeases > 0 ? " (\(worker.expiredLeases) expired)" : "")</td>"
                + "<td class=\"num\">\(Format.seconds(worker.heartbeatAgeSeconds))</td><td class=\"num\">\(Format.rate(worker.readPerSecond))</td>"
                + "<td class=\"wide small\">\(esc(worker.steps))</td><td class=\"wide\">\(Format.timeTag(worker.startedAt))</td>"
                + "<td class=\"wrap small\">\(esc(worker.held ?? ""))</td></tr>"
        }
        html += "</tbody></table></div>"
        html += "<p class=\"small muted\">Live: heartbeat within one lease. Late: its leases ran out and other workers take its partitions. Gone: silent for four leases.</p>"
        return html
    }
}
