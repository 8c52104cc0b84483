import Batch
import BatchPostgres
import Foundation
import PostgresClient

/// Everything the page of one execution shows.
struct ExecutionDetail: Sendable {
    var progress: ExecutionProgress
    var instanceID: Int64
    var createTime: Date
    var lastUpdated: Date?
    /// Nil when the dashboard's role may not read job parameters (see `sql/roles.sql`).
    var parameters: [ExecutionParameter]?
    /// Every execution of the same instance (restarts), oldest first.
    var instanceExecutions: [(id: Int64, status: BatchStatus)]
    var launcher: LauncherRow?
    var skips: [SkipRow]
    var skipTotal: Int64
    var actions: [AuditEntry]
}

struct ExecutionParameter: Sendable {
    var name: String
    var type: String
    var value: String
    var identifying: Bool
}

struct LauncherRow: Sendable {
    var host: String
    var pid: Int
    var heartbeatAgeSeconds: Double
    var leaseRemainingSeconds: Double
    var attachments: Int
}

struct SkipRow: Sendable {
    var stepName: String
    var phase: String
    var itemKey: String
    var reason: String
    var createdAt: Date
}

enum ExecutionDetailReads {
    static let skipsShown = 200

    static func detail(id: Int64, on db: PostgresConnection) throws -> ExecutionDetail? {
        let session = PostgresJobRepositorySession(connection: db)
        guard let progress = try session.executionProgress(id: id) else { return nil }
        let head = try db.query("""
            SELECT job_instance_id, create_time, last_updated FROM batch_job_execution WHERE job_execution_id = \(id)
            """).single()
        let instanceID = try head.decode(Int64.self, column: 0)
        var detail = ExecutionDetail(
            progress: progress, instanceID: instanceID, createTime: try head.decode(Date.self, column: 1),
            lastUpdated: try head.decode(Date?.self, column: 2), parameters: nil, instanceExecutions: [],
            launcher: nil, skips: [], skipTotal: 0, actions: [])
        detail.parameters = try parameters(id: id, on: db)
        detail.instanceExecutions = try db.query("""
            SELECT job_execution_id, status FROM batch_job_execution WHERE job_instance_id = \(instanceID)
            ORDER BY job_execution_id LIMIT 100
            """).map { row in
            (try row.decode(Int64.self, column: 0), BatchStatus(rawValue: try row.decode(String?.self, column: 1) ?? "") ?? .unknown)
        }
        detail.launcher = try db.query("""
            SELECT host, pid, extract(epoch FROM now() - heartbeat_at)::float8, extract(epoch FROM lease_expires_at - now())::float8, attachments
            FROM batch_job_launcher WHERE job_execution_id = \(id)
            """).first.map { row in
            LauncherRow(
                host: try row.decode(String.self, column: 0), pid: try row.decode(Int.self, column: 1),
                heartbeatAgeSeconds: try row.decode(Double.self, column: 2),
                leaseRemainingSeconds: try row.decode(Double.self, column: 3), attachments: try row.decode(Int.self, column: 4))
        }
        detail.skipTotal = try db.query("SELECT count(*) FROM batch_skipped_item WHERE job_execution_id = \(id)")
            .single().decode(Int64.self, column: 0)
        if detail.skipTotal > 0 {
            detail.skips = try db.query("""
                SELECT step_name, phase, item_key, reason, created_at FROM batch_skipped_item
                WHERE job_execution_id = \(id) ORDER BY skipped_item_id LIMIT \(skipsShown)
                """).map { row in
                SkipRow(
                    stepName: try row.decode(String.self, column: 0), phase: try row.decode(String.self, column: 1),
                    itemKey: try row.decode(String.self, column: 2), reason: try row.decode(String.self, column: 3),
                    createdAt: try row.decode(Date.self, column: 4))
            }
        }
        detail.actions = try AuditLog.entries(executionID: id, on: db)
        return detail
    }

    /// The execution's parameters, or nil when the role may not read them (SQLSTATE 42501).
    static func parameters(id: Int64, on db: PostgresConnection) throws -> [ExecutionParameter]? {
        do {
            return try db.query("""
                SELECT parameter_name, parameter_type, coalesce(parameter_value, ''), identifying = 'Y'
                FROM batch_job_execution_params WHERE job_execution_id = \(id) ORDER BY parameter_name
                """).map { row in
                ExecutionParameter(
                    name: try row.decode(String.self, column: 0), type: try row.decode(String.self, column: 1),
                    value: try row.decode(String.self, column: 2), identifying: try row.decode(Bool.self, column: 3))
            }
        } catch let error as PostgresError where error.sqlState == "42501" {
            return nil
        }
    }
}
