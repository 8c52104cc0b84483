import Batch
import BatchTestSupport
import Foundation
import Testing

@Suite("Splits: flows at the same time, joined, restarted per flow", .timeLimit(.minutes(2)))
struct SplitFlowTests {
    @Test func theFlowsOfASplitRunAtTheSameTimeAndJoinBeforeTheNextStep() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            // Both first steps must be running at once to get through.
            let together = Rendezvous(parties: 2)
            let job = Job("fan-out", flow: Flow {
                script.step("before")
                Split("both") {
                    Flow("left") {
                        script.step("left-1") { try together.arrive() }
                        script.step("left-2")
                    }
                    Flow("right") {
                        script.step("right-1") { try together.arrive() }
                    }
                }
                script.step("after")
            })
            let execution = try await launcher.run(job, parameters: [:])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            #expect(script.trail.first == "before")
            #expect(script.trail.last == "after")
            #expect(Set(script.trail) == ["before", "left-1", "left-2", "right-1", "after"])
            let steps = try engine.steps(execution.id)
            #expect(steps.allSatisfy { $0.status == .completed })
            let after = try #require(steps.first { $0.stepName == "after" }?.startTime)
            let branchEnds = steps.filter { $0.stepName.contains("-") }.compactMap(\.endTime)
            #expect(branchEnds.count == 3 && branchEnds.allSatisfy { $0 <= after })
        }
    }

    /// eur and usd load 1...1000 and 1001...2000 into `output`, 100 a chunk, on two threads.
    static func load(_ script: FlowScript, poison: PoisonSwitch, output: OutputTable) -> Job {
        func chunkStep(_ name: String, _ range: ClosedRange<Int64>) -> ChunkStep<RangeReader, CheckingProcessor, NumberWriter> {
            ChunkStep(name, commitInterval: 100) { _ in (RangeReader(range), CheckingProcessor(poison: poison), NumberWriter(output)) }
        }
        return Job("regions", parameters: [.required("day", .string)], flow: Flow {
            TaskletStep("prepare") { _, _ in .finished }
            Split("load") {
                Flow("eur") {
                    script.step("eur-check")
                    chunkStep("eur-load", 1...1_000)
                }
                Flow("usd") {
                    script.step("usd-check")
                    chunkStep("usd-load", 1_001...2_000)
                }
            }
            script.step("publish")
        })
    }

    @Test func aFailedFlowFailsTheJobAndARestartRunsOnlyThatFlowThenTheNextStep() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let poison = PoisonSwitch()
            poison.poison(1_550)
            let job = Self.load(script, poison: poison, output: engine.output)
            let failed = try await launcher.run(job, parameters: ["day": .string("d1")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("flow usd FAILED"))
            #expect(failed.exitStatus.exitDescription.contains("item 1550 is poisoned"))
            #expect(!failed.exitStatus.exitDescription.contains("flow eur"))
            #expect(!script.trail.contains("publish"))
            let first = try engine.steps(failed.id)
            let status = Dictionary(uniqueKeysWithValues: first.map { ($0.stepName, $0.status) })
            #expect(status == ["prepare": .completed, "eur-check": .completed, "eur-load": .completed,
                               "usd-check": .completed, "usd-load": .failed])
            // usd committed its chunks before the poison one: 1001...1500, less multiples of ten.
            #expect(try engine.outputCheck().count == 900 + 450)

            script.clearTrail()
            poison.cure()
            let restarted = try await launcher.run(job, parameters: ["day": .string("d1")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            #expect(script.trail == ["publish"])
            let second = try engine.steps(restarted.id)
            #expect(second.map(\.stepName) == ["usd-load", "publish"])
            // usd-load resumed from its checkpoint at 1501.
            #expect(second.first?.counts == StepCounts(read: 500, write: 450, filter: 50, commit: 6))
            let output = try engine.outputCheck()
            #expect(output.count == 1_800 && output.distinct == 1_800)
            #expect(output.sum == (1...2_000).filter { $0 % 10 != 0 }.reduce(0, +))
        }
    }

    @Test func anOperatorsStopEndsTheSplitStoppedAndARestartFinishesOnlyTheStoppedStep() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let script = FlowScript()
            let (calls, continuation) = AsyncStream.makeStream(of: Int64.self)
            let finishAt = Locked<Int64>(.max)
            let job = Job("stoppable", flow: Flow {
                Split("both") {
                    Flow("quick") { script.step("quick") }
                    Flow("slow") {
                        TaskletStep("count") { contribution, _ in
                            let n = (contribution.context.int("n") ?? 0) + 1
                            contribution.context["n"] = .int(n)
                            continuation.yield(n)
                            return n >= finishAt.withLock { $0 } ? .finished : .continuable
                        }
                        script.step("slow-after")
                    }
                }
                // A stopped split is never routed: this "*" must not run "after" early.
                .on("*").to("after")
                script.step("after")
            })
            async let run = launcher.run(job, parameters: [:])
            for await n in calls where n == 3 { break }
            let executionID = try #require(engine.newestExecution("stoppable")?.id)
            _ = try engine.requestStop(executionID)
            let stopped = try await run
            #expect(stopped.status == .stopped, "\(stopped.exitStatus)")
            #expect(!script.trail.contains("after") && !script.trail.contains("slow-after"))
            let counted = try #require(try engine.steps(stopped.id).first { $0.stepName == "count" })
            #expect(counted.status == .stopped)
            let savedCount = try #require(counted.context.int("n"))

            script.clearTrail()
            finishAt.withLock { $0 = savedCount + 2 }
            let restarted = try await launcher.run(job, parameters: [:])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            #expect(script.trail == ["slow-after", "after"])
            #expect(try engine.steps(restarted.id).map(\.stepName) == ["count", "slow-after", "after"])
            let resumed = try #require(try engine.steps(restarted.id).first)
            #expect(resumed.context.int("n") == savedCount + 2 && resumed.counts.commit == 2)
        }
    }
}
