import Foundation
import Testing

@testable import Batch

@Suite("BatchStatus")
struct BatchStatusTests {
    @Test("raw values are Spring Batch's stored names, in Spring Batch's order")
    func rawValuesAndOrder() {
        #expect(BatchStatus.allCases.map(\.rawValue) == [
            "COMPLETED", "STARTING", "STARTED", "STOPPING", "STOPPED", "FAILED", "ABANDONED", "UNKNOWN",
        ])
        #expect(BatchStatus.allCases.sorted() == BatchStatus.allCases)
        #expect(BatchStatus.completed < .starting)
        #expect(BatchStatus.failed < .abandoned)
        #expect(BatchStatus.abandoned < .unknown)
        #expect(BatchStatus.failed.description == "FAILED")
    }

    @Test("unknown strings parse to nil, never to a default")
    func parsing() {
        #expect(BatchStatus(rawValue: "STOPPING") == .stopping)
        #expect(BatchStatus(rawValue: "failed") == nil)
        #expect(BatchStatus(rawValue: "FAILED ") == nil)
        #expect(BatchStatus(rawValue: "") == nil)
        #expect(BatchStatus(rawValue: "COMPLETED_WITH_SKIPS") == nil)
    }

    @Test("isRunning is STARTING, STARTED and STOPPING")
    func isRunning() {
        #expect(BatchStatus.allCases.filter(\.isRunning) == [.starting, .started, .stopping])
    }

    @Test("isUnsuccessful is FAILED or worse")
    func isUnsuccessful() {
        #expect(BatchStatus.allCases.filter(\.isUnsuccessful) == [.failed, .abandoned, .unknown])
    }

    @Test(
        "upgrade(to:) follows Spring Batch's upgradeTo",
        arguments: [
            // Among COMPLETED, STARTING, STARTED the later stage of a run wins.
            (BatchStatus.starting, BatchStatus.started, BatchStatus.started),
            (.started, .starting, .started),
            (.starting, .completed, .completed),
            (.completed, .starting, .completed),
            (.started, .completed, .completed),
            (.completed, .started, .completed),
            (.completed, .completed, .completed),
            (.starting, .starting, .starting),
            // Anything worse than STARTED: the worse one wins.
            (.completed, .failed, .failed),
            (.failed, .completed, .failed),
            (.started, .stopping, .stopping),
            (.stopping, .started, .stopping),
            (.stopped, .completed, .stopped),
            (.stopping, .stopped, .stopped),
            (.failed, .stopped, .failed),
            (.abandoned, .failed, .abandoned),
            (.unknown, .abandoned, .unknown),
            (.starting, .unknown, .unknown),
        ]
    )
    func upgrade(from: BatchStatus, to: BatchStatus, expected: BatchStatus) {
        #expect(from.upgrade(to: to) == expected)
    }

    @Test("upgrade(to:) is symmetric and idempotent for every pair")
    func upgradeProperties() {
        for a in BatchStatus.allCases {
            #expect(a.upgrade(to: a) == a)
            for b in BatchStatus.allCases {
                #expect(a.upgrade(to: b) == b.upgrade(to: a))
                if a > .started || b > .started {
                    #expect(a.upgrade(to: b) == max(a, b))
                }
            }
        }
    }

    @Test("Codable uses the stored name")
    func codable() throws {
        let data = try JSONEncoder().encode([BatchStatus.stopped])
        #expect(String(decoding: data, as: UTF8.self) == #"["STOPPED"]"#)
        #expect(try JSONDecoder().decode([BatchStatus].self, from: Data(#"["ABANDONED"]"#.utf8)) == [.abandoned])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([BatchStatus].self, from: Data(#"["BOGUS"]"#.utf8))
        }
    }
}
