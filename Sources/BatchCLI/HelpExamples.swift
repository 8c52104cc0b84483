import Batch

/// The examples in `--help`: the shipped `swiftbatch` shows its own example jobs; an
/// application's binary shows its own name and its first job, never jobs it does not have.
enum HelpExamples {
    /// Whether this is the shipped `swiftbatch` executable with its example jobs.
    static var isShipped: Bool { ApplicationName.current == "swiftbatch" && JobRegistry.all.contains { $0.name == "ledger-etl" } }

    /// A job to show in examples.
    static var job: String { isShipped ? "ledger-etl" : JobRegistry.all.first?.name ?? "<job>" }

    /// The `launch --help` examples, indented for the discussion.
    static var launch: String {
        let app = ApplicationName.current
        if isShipped {
            return """
                  \(app) launch ledger-seed rows=100000
                  \(app) launch ledger-etl grid=8 chunk=1000 --local-workers 2
                  \(app) launch report day=2026-01-31,date --next
                  \(app) launch ledger-etl grid=8 --progress plain 2> etl.log
                """
        }
        return """
              \(app) launch \(job) name=value ...
              \(app) launch \(job) name=value ... --local-workers 2
              \(app) launch \(job) day=2026-01-31,date --next
              \(app) launch \(job) name=value ... --progress plain 2> \(job).log
            """
    }
}
