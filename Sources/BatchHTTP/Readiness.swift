/// Whether a process is ready to do its work, as `/ready` reports it.
public struct Readiness: Sendable, Equatable {
    public var isReady: Bool
    /// What was checked, by name (`connected`, `registered`, `heartbeat_age_seconds`, ...),
    /// shown in the response body.
    public var checks: [String: String]

    public init(isReady: Bool, checks: [String: String] = [:]) {
        self.isReady = isReady
        self.checks = checks
    }

    /// The body `/ready` answers with: one JSON object, keys sorted.
    var json: String {
        let fields = [("ready", isReady ? "true" : "false")]
            + checks.sorted { $0.key < $1.key }.map { ($0.key, "\"\(Self.escaped($0.value))\"") }
        return "{" + fields.map { "\"\(Self.escaped($0.0))\":\($0.1)" }.joined(separator: ",") + "}\n"
    }

    private static func escaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
