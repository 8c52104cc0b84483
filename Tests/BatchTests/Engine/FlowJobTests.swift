import Batch
import BatchTestSupport
import Testing

@Suite("Flows: conditional transitions, deciders and their restarts", .timeLimit(.minutes(2)))
struct FlowJobTests {
    static func stepNames(_ engine: Engine, _ executionID: Int64) throws -> [String] {
        try engine.steps(executionID).map(\.stepName)
    }

    /// check routes on its exit code; repair has no transition and falls through to report.
    static func audit(_ script: FlowScript) -> Job {
        Job("audit", parameters: [.required("batch", .string)], flow: Flow {
            script.step("check")
                .on("COMPLETED").to("report")
                .on("NEEDS REPAIR").to("repair")
                .on("NEEDS *").to("escalate")
            script.step("repair")
            script.step("report").on("*").end()
            script.step("escalate")
        })
    }

    @Test func transitionsFollowTheMostSpecificMatchingPattern() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let job = Self.audit(script)

            script.exit("check", with: "NEEDS REPAIR")
            let repaired = try await launcher.run(job, parameters: ["batch": .string("1")])
            #expect(repaired.status == .completed)
            #expect(repaired.exitStatus.exitCode == "COMPLETED")
            #expect(script.trail == ["check", "repair", "report"])
            #expect(try Self.stepNames(engine, repaired.id) == ["check", "repair", "report"])
            let check = try #require(try engine.steps(repaired.id).first)
            #expect(check.exitStatus.exitCode == "NEEDS REPAIR")

            script.clearTrail()
            script.exit("check", with: "NEEDS HELP")
            let escalated = try await launcher.run(job, parameters: ["batch": .string("2")])
            #expect(escalated.status == .completed)
            #expect(script.trail == ["check", "escalate"])

            script.clearTrail()
            script.exit("check", with: nil)
            let clean = try await launcher.run(job, parameters: ["batch": .string("3")])
            #expect(clean.status == .completed)
            #expect(script.trail == ["check", "report"])

            // No transition matches: the job fails, naming the code and the patterns.
            script.clearTrail()
            script.exit("check", with: "SURPRISE")
            let unmatched = try await launcher.run(job, parameters: ["batch": .string("4")])
            #expect(unmatched.status == .failed)
            #expect(unmatched.exitStatus.exitDescription.contains(
                "check ended with exit code SURPRISE, which none of its transitions (\"COMPLETED\", \"NEEDS REPAIR\", \"NEEDS *\") matches"))
            #expect(script.trail == ["check"])
        }
    }

    @Test func endFailAndStopEndTheJobAndRestartWhereTheySay() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let job = Job("gate", parameters: [.required("batch", .string)], flow: Flow {
                script.step("check")
                    .on("NOTHING TO DO").end(exitCode: "NOTHING TO DO")
                    .on("BAD").fail()
                    .on("PAUSE").stop(restartAt: "load")
                    .on("*").to("load")
                script.step("load")
            })

            // end: COMPLETED with its own exit code; load never runs.
            script.exit("check", with: "NOTHING TO DO")
            let ended = try await launcher.run(job, parameters: ["batch": .string("end")])
            #expect(ended.status == .completed)
            #expect(ended.exitStatus.exitCode == "NOTHING TO DO")
            #expect(script.trail == ["check"])

            // fail: FAILED; a restart runs check again (the flow failed after it), then goes on.
            script.clearTrail()
            script.exit("check", with: "BAD")
            let failed = try await launcher.run(job, parameters: ["batch": .string("fail")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("check ended BAD: the flow fails here"))
            #expect(script.trail == ["check"])
            script.clearTrail()
            script.exit("check", with: nil)
            let afterFail = try await launcher.run(job, parameters: ["batch": .string("fail")])
            #expect(afterFail.status == .completed)
            #expect(afterFail.instance == failed.instance)
            #expect(script.trail == ["check", "load"])
            #expect(try Self.stepNames(engine, afterFail.id) == ["check", "load"])

            // stop: STOPPED; a restart starts at load and does not run check again.
            script.clearTrail()
            script.exit("check", with: "PAUSE")
            let stopped = try await launcher.run(job, parameters: ["batch": .string("stop")])
            #expect(stopped.status == .stopped)
            #expect(stopped.exitStatus.exitDescription.contains("a restart resumes at load"))
            #expect(script.trail == ["check"])
            script.clearTrail()
            let resumed = try await launcher.run(job, parameters: ["batch": .string("stop")])
            #expect(resumed.status == .completed)
            #expect(script.trail == ["load"])
            #expect(try Self.stepNames(engine, resumed.id) == ["load"])
            let refused = await #expect(throws: JobLaunchError.self) {
                try await launcher.run(job, parameters: ["batch": .string("stop")])
            }
            #expect(refused?.code == .alreadyComplete)
        }
    }

    @Test func aDeciderRoutesOnParametersAndEarlierStepsAndDecidesAgainOnRestart() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let broken = PoisonSwitch()
            let job = Job("sizing", parameters: [.required("rows", .long)], flow: Flow {
                script.step("count")
                Decider("size?") { decision in
                    guard decision.previousStep?.stepName == "count", decision.previousExitStatus?.exitCode == "COMPLETED",
                        try decision.stepExecution(named: "count")?.status == .completed
                    else { return "NO COUNT" }
                    if broken.isPoisoned(1) { throw ScriptedFailure(step: "size?") }
                    return decision.parameters.long("rows")! > 100 ? "BIG" : "SMALL"
                }
                .on("BIG").to("big")
                .on("SMALL").to("small")
                script.step("big").on("*").end()
                script.step("small")
            })
            let big = try await launcher.run(job, parameters: ["rows": .long(500)])
            #expect(big.status == .completed)
            #expect(script.trail == ["count", "big"])
            script.clearTrail()
            let small = try await launcher.run(job, parameters: ["rows": .long(5)])
            #expect(small.status == .completed)
            #expect(script.trail == ["count", "small"])
            #expect(try Self.stepNames(engine, small.id) == ["count", "small"])

            // A decider that throws fails the job there; a restart decides again and does not
            // run the completed count step again.
            script.clearTrail()
            broken.poison(1)
            let failed = try await launcher.run(job, parameters: ["rows": .long(7)])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("decider size?: step size? was told to fail"))
            #expect(script.trail == ["count"])
            script.clearTrail()
            broken.cure()
            let restarted = try await launcher.run(job, parameters: ["rows": .long(7)])
            #expect(restarted.status == .completed)
            #expect(script.trail == ["small"])
            #expect(try Self.stepNames(engine, restarted.id) == ["small"])
        }
    }

    @Test func aRestartAfterAFailureResumesAtTheFailedStepAndSkipsCompletedOnes() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let job = Self.audit(script)
            script.exit("check", with: "NEEDS REPAIR")
            script.fail("repair")
            let failed = try await launcher.run(job, parameters: ["batch": .string("r")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("repair failed"))
            #expect(failed.exitStatus.exitDescription.contains("step repair was told to fail"))
            #expect(script.trail == ["check", "repair"])
            let first = try engine.steps(failed.id)
            #expect(first.map(\.stepName) == ["check", "repair"])
            #expect(first.map(\.status) == [.completed, .failed])

            // Even if check would now say something else, it completed: it is not run again,
            // and the flow goes on from repair.
            script.clearTrail()
            script.cure()
            script.exit("check", with: "NEEDS HELP")
            let restarted = try await launcher.run(job, parameters: ["batch": .string("r")])
            #expect(restarted.status == .completed)
            #expect(script.trail == ["repair", "report"])
            #expect(try Self.stepNames(engine, restarted.id) == ["repair", "report"])
        }
    }

    @Test func aFailedStepCanBeRoutedAndTheJobStillCompletes() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            script.fail("load")
            let job = Job("recovering", flow: Flow {
                script.step("load").on("FAILED").to("cleanup").on("*").end()
                script.step("cleanup")
            })
            let execution = try await launcher.run(job, parameters: [:])
            #expect(execution.status == .completed)
            #expect(script.trail == ["load", "cleanup"])
            let steps = try engine.steps(execution.id)
            #expect(steps.map(\.status) == [.failed, .completed])
        }
    }

    @Test func aBadFlowIsRefusedAtLaunchAndNothingIsWritten() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let job = Job("typo", flow: Flow {
                script.step("check").on("*").to("reprot")
                script.step("report")
            })
            let error = await #expect(throws: JobLaunchError.self) { try await launcher.run(job, parameters: [:]) }
            #expect(error?.code == .invalidDefinition)
            #expect(error?.message.contains("goes to reprot, which flow main does not have (it has: check, report)") == true)
            #expect(engine.repository.counts.executions == 0)
            #expect(script.trail.isEmpty)
        }
    }

    @Test func aStepThatMayStartWhenCompleteRunsAgainFromAFreshContext() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            script.fail("load")
            // Counts its calls in its context: 1 means it started from an empty context.
            let snapshot = TaskletStep("snapshot", allowStartIfComplete: true) { contribution, _ in
                let calls = (contribution.context.int("calls") ?? 0) + 1
                contribution.context["calls"] = .int(calls)
                return .finished
            }
            let sequential = Job("sequential", parameters: [.required("batch", .string)]) { snapshot; script.step("load") }
            let flowing = Job("flowing", parameters: [.required("batch", .string)], flow: Flow {
                snapshot.on("COMPLETED").to("load")
                script.step("load")
            })
            for job in [sequential, flowing] {
                script.fail("load")
                let failed = try await launcher.run(job, parameters: ["batch": .string("s")])
                #expect(failed.status == .failed)
                script.cure()
                let restarted = try await launcher.run(job, parameters: ["batch": .string("s")])
                #expect(restarted.status == .completed)
                let steps = try engine.steps(restarted.id)
                #expect(steps.map(\.stepName) == ["snapshot", "load"], "\(job.name)")
                #expect(steps.first?.context.int("calls") == 1, "\(job.name)")
            }
        }
    }

    @Test func aRestartRetracesTheFlowAsSpringBatchDoes() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let job = Job("retrace", parameters: [.required("batch", .string)], flow: Flow {
                script.step("check").on("PAUSE").stop(restartAt: "check").on("*").to("load")
                script.step("load").on("FAILED").to("cleanup").on("*").to("report")
                script.step("cleanup")
                script.step("report")
            })
            // A stop that restarts at the step that stopped: the restart runs it again, and when
            // it says PAUSE again the job stops again (no loop).
            script.exit("check", with: "PAUSE")
            #expect(try await launcher.run(job, parameters: ["batch": .string("p")]).status == .stopped)
            #expect(try await launcher.run(job, parameters: ["batch": .string("p")]).status == .stopped)
            #expect(script.trail == ["check", "check"])

            // A failure a transition handled is a failed step all the same: when a later step
            // fails, the restart runs it again (Spring Batch's rule), then follows its new exit.
            script.clearTrail()
            script.exit("check", with: nil)
            script.fail("load", "report")
            let failed = try await launcher.run(job, parameters: ["batch": .string("p")])
            #expect(failed.status == .failed)
            #expect(script.trail == ["check", "load", "cleanup", "report"])
            script.clearTrail()
            script.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("p")])
            #expect(restarted.status == .completed)
            #expect(script.trail == ["load", "report"])
            #expect(try Self.stepNames(engine, restarted.id) == ["load", "report"])
        }
    }
}
