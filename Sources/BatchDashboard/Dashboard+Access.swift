import BatchPostgres
import HTTPTypes
import Hummingbird
import Logging
import PostgresClient

extension Dashboard {
    static let challenge: HTTPFields = [.wwwAuthenticate: "Basic realm=\"SwiftBatch dashboard\", charset=\"UTF-8\""]

    /// Who asks: a user (credentials checked), anonymous when reading is open, or the response
    /// refusing the request (401 with a challenge).
    func viewer(for request: Request) -> Result<Viewer, RefusedRequest> {
        let header = request.headers[.authorization]
        if header != nil {
            guard let user = configuration.users.authenticate(authorization: header) else {
                return .failure(RefusedRequest(
                    status: .unauthorized, message: "Wrong user name or secret.", headers: Self.challenge))
            }
            return .success(Viewer(user: user, csrfToken: user.mayAct ? csrf.token(for: user.name) : nil))
        }
        guard configuration.openRead else {
            return .failure(RefusedRequest(
                status: .unauthorized, message: "Sign in to see the dashboard.", headers: Self.challenge))
        }
        return .success(Viewer(user: nil, csrfToken: nil))
    }

    /// Serves a page or fragment: authenticates, runs `body`, and turns what it throws into a
    /// page that says what went wrong.
    func read(_ request: Request, _ body: (Viewer) async throws -> Response) async -> Response {
        let viewer: Viewer
        switch self.viewer(for: request) {
        case .success(let found): viewer = found
        case .failure(let refused): return PageLayout.error(refused.status, refused.message, viewer: Viewer(), extra: refused.headers)
        }
        do {
            return try await body(viewer)
        } catch {
            return failure(error, viewer: viewer)
        }
    }

    /// The page for an error a handler threw.
    func failure(_ error: any Error, viewer: Viewer) -> Response {
        switch error {
        case let bad as BadRequest:
            return PageLayout.error(.badRequest, bad.message, viewer: viewer)
        case let refused as RefusedRequest:
            return PageLayout.error(refused.status, refused.message, viewer: viewer, extra: refused.headers)
        case let schema as SchemaError:
            return PageLayout.error(.serviceUnavailable, schema.message, viewer: viewer)
        case let database as PostgresError where database.sqlState == "42501":
            return PageLayout.error(
                .forbidden, "The database refused: \(database.message). Grant the dashboard's login the rights in sql/roles.sql.",
                viewer: viewer)
        case let database as PostgresError:
            logger.warning("repository query failed", metadata: ["error": "\(database)"])
            return PageLayout.error(
                .serviceUnavailable, "The job repository did not answer: \(database.message). Try again in a moment.", viewer: viewer)
        default:
            logger.error("request failed", metadata: ["error": "\(error)"])
            return PageLayout.error(.internalServerError, "Something went wrong: \(error)", viewer: viewer)
        }
    }

    /// Checks what every action needs before anything is done: an operator's credentials, a
    /// same-origin request (Origin, else Referer, when the browser sends them), a form body and
    /// the operator's CSRF token. Returns the user and the form's fields.
    func authorizeAction(_ request: Request) async throws(RefusedRequest) -> (DashboardUsers.User, [String: String]) {
        guard request.headers[.authorization] != nil else {
            throw RefusedRequest(status: .unauthorized, message: "Sign in as an operator to do this.", headers: Self.challenge)
        }
        guard let user = configuration.users.authenticate(authorization: request.headers[.authorization]) else {
            throw RefusedRequest(status: .unauthorized, message: "Wrong user name or secret.", headers: Self.challenge)
        }
        guard user.mayAct else {
            throw RefusedRequest(status: .forbidden, message: "\(user.name) is a viewer: only operators may act.")
        }
        guard Self.isSameOrigin(request) else {
            throw RefusedRequest(status: .forbidden, message: "Refused: the request came from another site (Origin or Referer differs).")
        }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw RefusedRequest(status: .unsupportedMediaType, message: "Send the action as a form (application/x-www-form-urlencoded).")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 * 1024)
        } catch {
            throw RefusedRequest(status: .contentTooLarge, message: "The form is larger than 64 KiB.")
        }
        let fields = formFields(String(buffer: body))
        guard csrf.isValid(fields["csrf"], for: user.name) else {
            throw RefusedRequest(
                status: .forbidden, message: "The form's security token is missing or stale: reload the page and try again.")
        }
        return (user, fields)
    }

    /// True unless the browser says the request comes from another origin.
    static func isSameOrigin(_ request: Request) -> Bool {
        guard let authority = request.head.authority else { return false }
        let origins = ["http://\(authority)", "https://\(authority)"]
        if let origin = request.headers[.origin] {
            return origins.contains(origin)
        }
        if let referer = request.headers[.referer] {
            return origins.contains { referer == $0 || referer.hasPrefix($0 + "/") }
        }
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!] {
            return site == "same-origin" || site == "none"
        }
        // Not a browser (curl, a script): the token and credentials alone decide.
        return true
    }
}

/// A request refused with a status and a message for the person who sent it.
struct RefusedRequest: Error {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]
}
