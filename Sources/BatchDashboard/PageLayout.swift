import HTTPTypes
import Hummingbird

/// Who is looking at a page.
struct Viewer: Sendable {
    /// Nil: anonymous (only with `openRead`).
    var user: DashboardUsers.User?
    /// The user's CSRF token, for the forms of an operator.
    var csrfToken: String?

    var mayAct: Bool { user?.mayAct == true }
}

/// The shell every page shares, and the responses built from pages.
enum PageLayout {
    enum Section: String {
        case executions, jobs, workers, audit
    }

    static func page(title: String, section: Section?, viewer: Viewer, notice: Notice? = nil, body: String) -> String {
        func link(_ target: Section, _ label: String) -> String {
            "<a href=\"/\(target.rawValue)\"\(section == target ? " class=\"here\" aria-current=\"page\"" : "")>\(label)</a>"
        }
        let who: String
        if let user = viewer.user {
            who = "\(esc(user.name)) <span class=\"muted\">(\(user.role.rawValue))</span>"
        } else {
            who = "read-only · <a href=\"/login\">sign in</a>"
        }
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(title)) · SwiftBatch</title>
            <link rel="stylesheet" href="/static/dashboard.css?v=\(DashboardAssets.version)">
            <script src="/static/live.js?v=\(DashboardAssets.version)" defer></script>
            </head><body>
            <header><a class="brand" href="/executions">SwiftBatch</a>
            <nav>\(link(.executions, "Executions"))\(link(.jobs, "Jobs"))\(link(.workers, "Workers"))\(link(.audit, "Audit"))</nav>
            <span class="who">\(who)</span></header>
            <main>
            """
        if let notice {
            html += "<div class=\"notice \(notice.ok ? "ok" : "bad")\" role=\"status\">\(esc(notice.text))</div>"
        }
        html += body
        html += "</main></body></html>"
        return html
    }

    struct Notice {
        var ok: Bool
        var text: String
    }

    /// A form that POSTs an action, with the viewer's CSRF token.
    static func actionForm(
        _ action: String, label: String, viewer: Viewer, style: String = "", confirm: String? = nil, fields: [String: String] = [:]
    ) -> String {
        guard let token = viewer.csrfToken else { return "" }
        var html = "<form method=\"post\" action=\"\(esc(action))\""
        if let confirm { html += " data-confirm=\"\(esc(confirm))\"" }
        html += "><input type=\"hidden\" name=\"csrf\" value=\"\(esc(token))\">"
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            html += "<input type=\"hidden\" name=\"\(esc(name))\" value=\"\(esc(value))\">"
        }
        html += "<button type=\"submit\"\(style.isEmpty ? "" : " class=\"\(style)\"")>\(esc(label))</button></form>"
        return html
    }

    // MARK: Responses

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]

    static func html(_ text: String, status: HTTPResponse.Status = .ok, extra: HTTPFields = [:]) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A page that says what went wrong and what to do.
    static func error(_ status: HTTPResponse.Status, _ message: String, viewer: Viewer, extra: HTTPFields = [:]) -> Response {
        let body = "<h1>\(status.code) \(esc(status.reasonPhrase))</h1><div class=\"notice bad\">\(esc(message))</div>"
            + "<p><a href=\"/executions\">Back to the executions</a></p>"
        return html(page(title: status.reasonPhrase, section: nil, viewer: viewer, body: body), status: status, extra: extra)
    }

    static func redirect(to location: String) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
