import Testing

@testable import Batch

@Suite("Flow definitions: patterns, specificity, bad flows")
struct FlowDefinitionTests {
    static func step(_ name: String) -> TaskletStep { TaskletStep(name) { _, _ in .finished } }

    @Test func patternsMatchLikeSpringBatch() {
        #expect(ExitCodePattern("*").matches("COMPLETED"))
        #expect(ExitCodePattern("*").matches(""))
        #expect(ExitCodePattern("COMPLETED").matches("COMPLETED"))
        #expect(!ExitCodePattern("COMPLETED").matches("COMPLETED WITH SKIPS"))
        #expect(ExitCodePattern("COMPLETED*").matches("COMPLETED WITH SKIPS"))
        #expect(ExitCodePattern("COMPLETED*").matches("COMPLETED"))
        #expect(ExitCodePattern("*SKIPS").matches("COMPLETED WITH SKIPS"))
        #expect(ExitCodePattern("C?DE-?").matches("CODE-1"))
        #expect(!ExitCodePattern("CODE-?").matches("CODE-"))
        #expect(!ExitCodePattern("CODE-?").matches("CODE-12"))
        #expect(ExitCodePattern("*-*-?").matches("A-B-C"))
        #expect(!ExitCodePattern("FAILED").matches("failed"))
    }

    @Test func theMostSpecificMatchingTransitionWins() {
        let element = Self.step("check")
            .on("*").to("any")
            .on("COMPLETED*").to("completed-something")
            .on("COMPLETED WITH SKIPS").to("skips")
            .on("COMPLETED WITH ?KIPS").to("one-wildcard")
        func target(_ code: String) -> String? {
            guard let transition = element.transitionsBySpecificity.first(where: { $0.pattern.matches(code) }),
                case .element(let name) = transition.target
            else { return nil }
            return name
        }
        #expect(target("COMPLETED WITH SKIPS") == "skips")
        #expect(target("COMPLETED WITH RKIPS") == "one-wildcard")
        #expect(target("COMPLETED") == "completed-something")
        #expect(target("FAILED") == "any")
    }

    @Test func aSequentialJobHasNoFlowAndNoProblems() {
        let job = Job("plain") { Self.step("a"); Self.step("b") }
        #expect(job.flow == nil)
        #expect(job.definitionProblems.isEmpty)
        #expect(job.steps.map(\.name) == ["a", "b"])
    }

    @Test func aFlowListsEveryStepIncludingItsSplits() throws {
        let job = Job("flowing", flow: Flow {
            Self.step("a").on("FAILED").to("b").on("*").to("split")
            Self.step("b")
            Split("split") {
                Flow("left") { Self.step("l1"); Self.step("l2") }
                Flow("right") { Self.step("r1") }
            }
            Decider("last?") { _ in "DONE" }.on("DONE").end()
        })
        #expect(job.definitionProblems.isEmpty, "\(job.definitionProblems)")
        #expect(job.steps.map(\.name) == ["a", "b", "l1", "l2", "r1"])
        let summary = try #require(job.flow?.summary)
        #expect(summary.contains("a [FAILED -> b, * -> split]"))
        #expect(summary.contains("split split (left: l1 -> l2 | right: r1)"))
    }

    @Test func badFlowsAreRefusedNamingWhatIsWrong() throws {
        let job = Job("bad", parameters: [.optional("x", .string)], flow: Flow {
            Self.step("check").on("REPAIR").to("repiar").on("*").to("report")
            Self.step("report").on("*").to("check")
            Self.step("check")
            Decider("d") { _ in "X" }.on("").end().on("*").stop(restartAt: "nowhere")
            Split("s") {
                Flow("main") { Self.step("inner").on("*").to("report") }
            }
        })
        let problems = job.definitionProblems.joined(separator: "\n")
        #expect(problems.contains("2 steps, deciders or splits are named check"))
        #expect(problems.contains("2 flows are named main"))
        #expect(problems.contains("check: on(\"REPAIR\") goes to repiar, which flow main does not have (it has: check, report, check, d, s)"))
        #expect(problems.contains("d: on(\"\") matches no exit code"))
        #expect(problems.contains("goes to nowhere"))
        // A split's flow cannot jump into the flow around it.
        #expect(problems.contains("inner: on(\"*\") goes to report, which flow main does not have (it has: inner)"))
        #expect(problems.contains("flow main loops: check -> report -> check"))

        let error = #expect(throws: JobLaunchError.self) { try job.resolveParameters(["x": .string("1")]) }
        #expect(error?.code == .invalidDefinition)
        #expect(error?.message.hasPrefix("job bad is badly defined: ") == true)
        #expect(error?.message.contains("repiar") == true)
        #expect(error?.code.isRefusal == false)
    }
}
