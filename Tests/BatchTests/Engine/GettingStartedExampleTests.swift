import Batch
import Testing

/// The in-memory example of the GettingStarted article, as written there.
@Suite("GettingStarted: a job on the in-memory repository", .timeLimit(.minutes(1)))
struct GettingStartedExampleTests {
    @Test func theArticlesJobCompletesAndItsInstanceIsThenRefused() async throws {
        let count = Job("count", parameters: [.required("to", .long)]) {
            TaskletStep("count") { contribution, chunk in
                contribution.counts.write = chunk.parameters.long("to") ?? 0   // no database needed
                return .finished
            }
        }
        let launcher = JobLauncher(repository: InMemoryJobRepository())
        let execution = try await launcher.run(count, parameters: ["to": .long(3)])
        #expect(execution.status == .completed)
        await #expect(throws: JobLaunchError.self) {
            try await launcher.run(count, parameters: ["to": .long(3)])
        }
    }
}
