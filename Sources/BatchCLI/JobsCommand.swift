import ArgumentParser
import Batch

struct JobsCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "jobs",
            abstract: "List the jobs this executable can launch, with their parameters.",
            discussion: """
                Example:
                  \(ApplicationName.current) jobs
                """)
    }

    func run() throws {
        for job in JobRegistry.all {
            print(job.name + (job.summary.isEmpty ? "" : "  \(job.summary)"))
            for spec in job.parameterSpecs {
                var line = "    \(spec.name)=<\(spec.kind)>"
                if spec.isRequired { line += "  required" }
                if let value = spec.defaultValue { line += "  default \(value)" }
                if !spec.identifying { line += "  (not identifying)" }
                if !spec.help.isEmpty { line += "  \(spec.help)" }
                print(line)
            }
            if let flow = job.flow {
                print("    flow: \(flow.summary)")
            } else {
                print("    steps: \(job.steps.map(\.name).joined(separator: " -> "))")
            }
            for problem in job.definitionProblems { print("    badly defined: \(problem)") }
        }
    }
}
