import Foundation
import PostgresClient

/// What an operator did through the dashboard, as recorded in `batch_operator_action`.
struct AuditEntry: Sendable {
    var id: Int64
    var at: Date
    var actor: String
    var action: String
    var executionID: Int64?
    var jobName: String?
    var detail: String?
    var outcome: String
    var message: String?
    var client: String?
}

/// One action to record.
struct AuditRecord: Sendable {
    var actor: String
    var action: DashboardAction
    var executionID: Int64?
    var jobName: String?
    var detail: String?
    var outcome: Outcome
    var message: String
    var client: String?

    enum Outcome: String, Sendable {
        case done, refused, failed
    }
}

/// The dashboard's actions, named as the audit table names them.
enum DashboardAction: String, Sendable, CaseIterable {
    case stop, restart, abandon, recover, launch
}

enum AuditLog {
    static let columns = "action_id, created_at, actor, action, job_execution_id, job_name, detail, outcome, message, client"

    /// Records `record`; the text columns are cut to what the table holds.
    static func record(_ record: AuditRecord, on db: PostgresConnection) throws {
        func cut(_ text: String?, _ limit: Int) -> String? { text.map { String($0.prefix(limit)) } }
        try db.execute("""
            INSERT INTO batch_operator_action (actor, action, job_execution_id, job_name, detail, outcome, message, client)
            VALUES (\(cut(record.actor, 200)), \(record.action.rawValue), \(record.executionID), \(cut(record.jobName, 100)),
                    \(cut(record.detail, 2500)), \(record.outcome.rawValue), \(cut(record.message, 2500)), \(cut(record.client, 200)))
            """)
    }

    static func entries(executionID: Int64, on db: PostgresConnection) throws -> [AuditEntry] {
        try db.query("""
            SELECT \(unsafeRaw: columns) FROM batch_operator_action
            WHERE job_execution_id = \(executionID) ORDER BY action_id DESC LIMIT 50
            """).map(entry(from:))
    }

    /// The newest entries, before the `before` cursor (keyset paging).
    static func recent(before: Int64?, limit: Int, on db: PostgresConnection) throws -> [AuditEntry] {
        try db.query("""
            SELECT \(unsafeRaw: columns) FROM batch_operator_action
            WHERE (\(before)::bigint IS NULL OR action_id < \(before))
            ORDER BY action_id DESC LIMIT \(limit)
            """).map(entry(from:))
    }

    static func entry(from row: PostgresRow) throws -> AuditEntry {
        AuditEntry(
            id: try row.decode(Int64.self, column: 0), at: try row.decode(Date.self, column: 1),
            actor: try row.decode(String.self, column: 2), action: try row.decode(String.self, column: 3),
            executionID: try row.decode(Int64?.self, column: 4), jobName: try row.decode(String?.self, column: 5),
            detail: try row.decode(String?.self, column: 6), outcome: try row.decode(String.self, column: 7),
            message: try row.decode(String?.self, column: 8), client: try row.decode(String?.self, column: 9))
    }
}
