import Batch
import BatchTestSupport
import Synchronization
import Testing

@Suite("Jobs, steps and the launcher, on the in-memory repository", .timeLimit(.minutes(2)))
struct JobEngineTests {
    @Test func chunkStepCountsAreExact() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: PoisonSwitch(), output: engine.output)
            let execution = try await launcher.run(job, parameters: ["batch": .string("a")])
            #expect(execution.status == .completed)
            #expect(execution.exitStatus.exitCode == "COMPLETED")
            let steps = try engine.steps(execution.id)
            #expect(steps.map(\.stepName) == ["prepare", "load"])
            let load = try #require(steps.last)
            #expect(load.status == .completed)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 11))
            #expect(load.context.int("numbers.next") == 10_051)
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045)
        }
    }

    @Test func aPoisonRecordFailsTheStepAndARestartResumesFromTheCheckpoint() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            poison.poison(5_500)
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: poison, output: engine.output)
            let failed = try await launcher.run(job, parameters: ["batch": .string("b")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("item 5500 is poisoned"))
            let firstSteps = try engine.steps(failed.id)
            let firstLoad = try #require(firstSteps.last)
            #expect(firstLoad.status == .failed)
            // Five chunks committed, the sixth rolled back; the checkpoint is the fifth's.
            #expect(firstLoad.counts == StepCounts(read: 5_000, write: 4_500, filter: 500, commit: 5, rollback: 1))
            #expect(firstLoad.context.int("numbers.next") == 5_001)
            #expect(try engine.outputCheck().count == 4_500)

            poison.cure()  // the data is fixed
            let restarted = try await launcher.run(job, parameters: ["batch": .string("b"), "note": .string("retry")])
            #expect(restarted.status == .completed)
            #expect(restarted.instance == failed.instance)
            let secondSteps = try engine.steps(restarted.id)
            // The completed tasklet step is not run again; the chunk step resumes at 5001.
            #expect(secondSteps.map(\.stepName) == ["load"])
            #expect(secondSteps.first?.counts == StepCounts(read: 5_050, write: 4_545, filter: 505, commit: 6))
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045)
            #expect(output.sum == (1...10_050).filter { $0 % 10 != 0 }.reduce(0, +))
        }
    }

    @Test func completedInstancesAreRefusedAndNextStartsANewOne() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let job = Job("tiny", parameters: [.required("batch", .string), .optional("note", .string, identifying: false)]) {
                TaskletStep("noop") { _, _ in .finished }
            }
            let first = try await launcher.run(job, parameters: ["batch": .string("c")])
            #expect(first.status == .completed)
            let refused = await #expect(throws: JobLaunchError.self) {
                try await launcher.run(job, parameters: ["batch": .string("c")])
            }
            #expect(refused?.code == .alreadyComplete)
            #expect(refused?.message.contains("--next") == true)
            // A non-identifying parameter does not make a new instance.
            let stillRefused = await #expect(throws: JobLaunchError.self) {
                try await launcher.run(job, parameters: ["batch": .string("c"), "note": .string("x")])
            }
            #expect(stillRefused?.code == .alreadyComplete)

            let next = try await launcher.run(job, parameters: ["batch": .string("c")], next: true)
            #expect(next.status == .completed)
            #expect(next.instance.id != first.instance.id)
            #expect(next.parameters.long("run.id") == 1)
            let again = try await launcher.run(job, parameters: ["batch": .string("c")], next: true)
            #expect(again.status == .completed)
            #expect(again.parameters.long("run.id") == 2)
        }
    }

    @Test func invalidParametersAreRefusedBeforeAnythingIsWritten() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let job = EngineTestJobs.numbers(count: 10, commitInterval: 3, poison: PoisonSwitch(), output: engine.output)
            let missing = await #expect(throws: JobLaunchError.self) { try await launcher.run(job, parameters: [:]) }
            #expect(missing?.code == .invalidParameters)
            #expect(missing?.message.contains("missing required parameter batch") == true)
            let unknown = await #expect(throws: JobLaunchError.self) {
                try await launcher.run(job, parameters: ["batch": .string("x"), "bacth": .string("typo")])
            }
            #expect(unknown?.message.contains("takes no parameter bacth") == true)
            #expect(engine.repository.counts == (0, 0))
        }
    }

    @Test func eightConcurrentLaunchesOfOneInstanceMakeOneExecution() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let gate = Gate()
            let job = Job("racer", parameters: [.required("day", .string)]) {
                TaskletStep("hold") { _, _ in
                    gate.wait()  // keep the winner running until every launcher has tried
                    return .finished
                }
            }
            let outcomes = await withTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            return "\(try await launcher.run(job, parameters: ["day": .string("2026-01-01")]).status)"
                        } catch let error as JobLaunchError {
                            gate.open()
                            return "\(error.code)"
                        } catch {
                            gate.open()
                            return "unexpected: \(error)"
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "COMPLETED" }.count == 1, "\(outcomes)")
            #expect(outcomes.filter { $0 == "alreadyRunning" || $0 == "alreadyComplete" }.count == 7, "\(outcomes)")
            #expect(engine.repository.counts == (1, 1))
        }
    }

    @Test func aStopRequestEndsTheJobStoppedAndARestartContinues() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let (calls, continuation) = AsyncStream.makeStream(of: Int64.self)
            let finishAt = Mutex<Int64>(.max)
            let job = Job("counter", parameters: [.required("name", .string)]) {
                TaskletStep("count") { contribution, _ in
                    let n = (contribution.context.int("n") ?? 0) + 1
                    contribution.context["n"] = .int(n)
                    contribution.counts.write += 1
                    continuation.yield(n)
                    return n >= finishAt.withLock({ $0 }) ? .finished : .continuable
                }
            }
            async let run = launcher.run(job, parameters: ["name": .string("x")])
            for await n in calls where n == 3 { break }
            let executionID = try #require(engine.newestExecution("counter")?.id)
            let status = try engine.requestStop(executionID)
            #expect(status == .stopping)
            let stopped = try await run
            #expect(stopped.status == .stopped)
            let stoppedStep = try #require(try engine.steps(stopped.id).first)
            #expect(stoppedStep.status == .stopped)
            let savedCount = try #require(stoppedStep.context.int("n"))
            #expect(savedCount >= 3)
            #expect(stoppedStep.counts.commit == savedCount)

            // Restart: the tasklet resumes from the saved context, not from zero.
            finishAt.withLock { $0 = savedCount + 5 }
            let restarted = try await launcher.run(job, parameters: ["name": .string("x")])
            #expect(restarted.status == .completed)
            let restartedStep = try #require(try engine.steps(restarted.id).first)
            #expect(restartedStep.context.int("n") == savedCount + 5)
            #expect(restartedStep.counts.write == 5)
        }
    }
}
