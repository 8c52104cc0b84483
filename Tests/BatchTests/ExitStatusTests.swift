import Foundation
import Testing

@testable import Batch

// Swift Testing has its own `ExitStatus` (for exit tests); this file means SwiftBatch's.
private typealias ExitStatus = Batch.ExitStatus

@Suite("ExitStatus")
struct ExitStatusTests {
    @Test("constants carry Spring Batch's codes and no description")
    func constants() {
        let all: [ExitStatus] = [.unknown, .executing, .completed, .noop, .failed, .stopped]
        #expect(all.map(\.exitCode) == ["UNKNOWN", "EXECUTING", "COMPLETED", "NOOP", "FAILED", "STOPPED"])
        #expect(all.allSatisfy { $0.exitDescription.isEmpty })
    }

    @Test(
        "severity ranks by prefix; custom codes rank highest",
        arguments: [
            ("EXECUTING", 1), ("COMPLETED", 2), ("NOOP", 3), ("STOPPED", 4), ("FAILED", 5), ("UNKNOWN", 6),
            ("COMPLETED WITH SKIPS", 2), ("FAILED_VALIDATION", 5), ("NOOPS", 3),
            ("MY_CODE", 7), ("completed", 7), ("", 7),
        ]
    )
    func severity(code: String, expected: Int) {
        #expect(ExitStatus(exitCode: code).severity == expected)
    }

    @Test("and(_:) keeps the more severe code")
    func andKeepsSevereCode() {
        #expect(ExitStatus.completed.and(.failed).exitCode == "FAILED")
        #expect(ExitStatus.failed.and(.completed).exitCode == "FAILED")
        #expect(ExitStatus.executing.and(.completed).exitCode == "COMPLETED")
        #expect(ExitStatus.noop.and(.stopped).exitCode == "STOPPED")
        #expect(ExitStatus.failed.and(.unknown).exitCode == "UNKNOWN")
        let custom = ExitStatus(exitCode: "PARTIAL")
        #expect(ExitStatus.unknown.and(custom).exitCode == "PARTIAL")
        #expect(custom.and(.failed).exitCode == "PARTIAL")
    }

    @Test("and(_:) at equal severity takes the code that sorts later")
    func andEqualSeverity() {
        let a = ExitStatus(exitCode: "COMPLETED A")
        let b = ExitStatus(exitCode: "COMPLETED B")
        #expect(a.and(b).exitCode == "COMPLETED B")
        #expect(b.and(a).exitCode == "COMPLETED B")
        #expect(ExitStatus(exitCode: "ALPHA").and(ExitStatus(exitCode: "BETA")).exitCode == "BETA")
    }

    @Test("and(_:) joins descriptions with \"; \" without repeating them")
    func andJoinsDescriptions() {
        let first = ExitStatus(exitCode: "COMPLETED", exitDescription: "read 10")
        let second = ExitStatus(exitCode: "FAILED", exitDescription: "writer failed")
        #expect(first.and(second) == ExitStatus(exitCode: "FAILED", exitDescription: "read 10; writer failed"))
        #expect(first.and(first) == first)
        #expect(ExitStatus.completed.and(second).exitDescription == "writer failed")
    }

    @Test("adding(description:) ignores blank text, like Spring's hasText")
    func addingDescription() {
        let status = ExitStatus(exitCode: "FAILED", exitDescription: "one")
        #expect(status.adding(description: "").exitDescription == "one")
        #expect(status.adding(description: "  \n").exitDescription == "one")
        #expect(status.adding(description: "one").exitDescription == "one")
        #expect(status.adding(description: "two").exitDescription == "one; two")
        #expect(status.adding(description: "two").exitCode == "FAILED")
        // A blank existing description is dropped rather than kept in front of the new text.
        #expect(ExitStatus(exitCode: "X", exitDescription: "  ").adding(description: "two").exitDescription == "two")
    }

    @Test("adding(error:) names the error's type and message")
    func addingError() {
        struct DiskFull: Error, CustomStringConvertible {
            var description: String { "no space left on /data" }
        }
        let status = ExitStatus.failed.adding(error: DiskFull())
        #expect(status.exitCode == "FAILED")
        #expect(status.exitDescription.contains("DiskFull"))
        #expect(status.exitDescription.hasSuffix(": no space left on /data"))
    }

    @Test("replacingExitCode keeps the description")
    func replacingExitCode() {
        let status = ExitStatus(exitCode: "COMPLETED", exitDescription: "done").replacingExitCode("COMPLETED WITH SKIPS")
        #expect(status == ExitStatus(exitCode: "COMPLETED WITH SKIPS", exitDescription: "done"))
    }

    @Test("isRunning is exactly EXECUTING or UNKNOWN")
    func isRunning() {
        #expect(ExitStatus.executing.isRunning)
        #expect(ExitStatus.unknown.isRunning)
        #expect(!ExitStatus.completed.isRunning)
        #expect(!ExitStatus(exitCode: "EXECUTING_MORE").isRunning)
    }

    @Test("truncatedForStorage cuts the description to 2500 Unicode scalars")
    func truncation() {
        #expect(ExitStatus.maxStoredDescriptionLength == 2500)
        let short = ExitStatus(exitCode: "FAILED", exitDescription: "short")
        #expect(short.truncatedForStorage == short)

        let exact = ExitStatus(exitCode: "FAILED", exitDescription: String(repeating: "x", count: 2500))
        #expect(exact.truncatedForStorage == exact)

        let long = ExitStatus(exitCode: "FAILED", exitDescription: String(repeating: "é", count: 3000))
        let cut = long.truncatedForStorage
        #expect(cut.exitCode == "FAILED")
        #expect(cut.exitDescription.unicodeScalars.count == 2500)
        #expect(long.exitDescription.hasPrefix(cut.exitDescription))

        // A family emoji is one Character but seven scalars; the column counts scalars.
        let family = "👨‍👩‍👧‍👦"
        let emoji = ExitStatus(exitCode: "FAILED", exitDescription: String(repeating: family, count: 500))
        #expect(emoji.exitDescription.count == 500)
        #expect(emoji.truncatedForStorage.exitDescription.unicodeScalars.count == 2500)
    }

    @Test("description and Codable")
    func descriptionAndCodable() throws {
        let status = ExitStatus(exitCode: "FAILED", exitDescription: "boom")
        #expect(status.description == "exitCode=FAILED;exitDescription=boom")
        let data = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(ExitStatus.self, from: data) == status)
    }
}
