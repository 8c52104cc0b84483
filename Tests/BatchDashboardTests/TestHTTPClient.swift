import BatchTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A response as the tests read it.
struct TestResponse: Sendable {
    var status: Int
    /// Header names in lower case.
    var headers: [String: String]
    var text: String

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A plain HTTP/1.1 client over a socket on loopback (one request a connection), so the tests
/// talk to the real server as a browser or curl does, with no TLS stack to build.
struct TestHTTPClient: Sendable {
    var port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    func get(_ path: String, auth: String? = DashboardHarness.operatorAuth, headers: [String: String] = [:]) async throws -> TestResponse {
        var all = headers
        if let auth { all["Authorization"] = auth }
        return try await request("GET", path, headers: all, body: nil)
    }

    /// POSTs a form; leave `csrf` out of `fields` to send none.
    func post(
        _ path: String, fields: [String: String], auth: String? = DashboardHarness.operatorAuth, origin: String? = nil,
        contentType: String = "application/x-www-form-urlencoded"
    ) async throws -> TestResponse {
        var headers = ["Content-Type": contentType]
        if let auth { headers["Authorization"] = auth }
        if let origin { headers["Origin"] = origin }
        let body = fields.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            .joined(separator: "&")
        return try await request("POST", path, headers: headers, body: body)
    }

    /// The operator's CSRF token, read from a form of the jobs page.
    func csrfToken() async throws -> String {
        let page = try await get("/jobs").text
        guard let match = page.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/) else { throw HarnessError("no csrf field on /jobs") }
        return String(match.output.1)
    }

    func request(_ method: String, _ path: String, headers: [String: String], body: String?) async throws -> TestResponse {
        let port = self.port
        return try await onDedicatedThread {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket failed") }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw HarnessError("cannot connect to 127.0.0.1:\(port)") }
            var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
            text += "\r\n" + (body ?? "")
            let bytes = Array(text.utf8)
            var sent = 0
            while sent < bytes.count {
                let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard count > 0 else { throw HarnessError("send failed") }
                sent += count
            }
            var response = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { break }
                response += buffer[0..<count]
            }
            return try Self.parse(response)
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> TestResponse {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw HarnessError("no HTTP response: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        guard let first = lines.first, let status = Int(first.split(separator: " ").dropFirst().first ?? "") else {
            throw HarnessError("bad status line: \(lines.first ?? "")")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = String(text[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return TestResponse(status: status, headers: headers, text: body)
    }

    /// Undoes chunked transfer encoding.
    static func dechunk(_ text: String) -> String {
        var bytes = Array(text.utf8)[...]
        var out = [UInt8]()
        while let lineEnd = bytes.firstIndex(of: 13) {
            let size = Int(String(decoding: bytes[bytes.startIndex..<lineEnd], as: UTF8.self), radix: 16) ?? 0
            let start = lineEnd + 2
            if size == 0 || start + size > bytes.endIndex { break }
            out += bytes[start..<start + size]
            bytes = bytes[(start + size + 2)...]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
