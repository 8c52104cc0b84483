import Testing

@testable import Batch

@Suite("KeyRangeCheckpoint: the low-water mark and the ranges committed above it")
struct KeyRangeCheckpointTests {
    @Test func pagesCommittingOutOfOrderMergeIntoTheLowWaterMark() {
        var checkpoint = KeyRangeCheckpoint(start: 1)
        #expect(checkpoint.doneThrough == nil)
        checkpoint.insert(201...300)
        checkpoint.insert(401...500)
        #expect(checkpoint.doneThrough == nil)
        #expect(Array(checkpoint.committedAbove) == [201...300, 401...500])
        checkpoint.insert(1...100)
        #expect(checkpoint.doneThrough == 100)
        #expect(Array(checkpoint.committedAbove) == [201...300, 401...500])
        // The page between them joins all three ranges: the context shrinks back.
        checkpoint.insert(101...200)
        #expect(checkpoint.doneThrough == 300)
        checkpoint.insert(301...400)
        #expect(checkpoint.doneThrough == 500)
        #expect(checkpoint.committedAbove.isEmpty)
        #expect(checkpoint.ranges == [1...500])
    }

    @Test func overlappingAndExtremeRangesMergeWithoutOverflow() {
        var checkpoint = KeyRangeCheckpoint()
        checkpoint.insert(10...20)
        checkpoint.insert(15...30)
        checkpoint.insert(Int64.max - 5...Int64.max)
        checkpoint.insert(Int64.min...9)
        #expect(checkpoint.ranges == [Int64.min...30, Int64.max - 5...Int64.max])
        #expect(checkpoint.doneThrough == 30)
        checkpoint.insert(31...Int64.max - 6)
        #expect(checkpoint.ranges == [Int64.min...Int64.max])
        #expect(checkpoint.firstGap(from: 0, through: .max) == nil)
    }

    @Test func gapsAreTheKeysNoCommittedRangeCovers() {
        var checkpoint = KeyRangeCheckpoint(start: 1)
        checkpoint.insert(1...100)
        checkpoint.insert(201...300)
        checkpoint.insert(451...500)
        #expect(checkpoint.firstGap(from: 1, through: 1000) == 101...200)
        #expect(checkpoint.firstGap(from: 150, through: 1000) == 150...200)
        #expect(checkpoint.firstGap(from: 201, through: 1000) == 301...450)
        #expect(checkpoint.firstGap(from: 301, through: 400) == 301...400)
        #expect(checkpoint.firstGap(from: 460, through: 1000) == 501...1000)
        #expect(checkpoint.firstGap(from: 460, through: 500) == nil)
        #expect(checkpoint.firstGap(from: 1001, through: 1000) == nil)
        #expect(KeyRangeCheckpoint().firstGap(from: .min, through: .max) == Int64.min...Int64.max)
    }

    @Test func theContextFormRoundTripsAndBadValuesAreRefused() throws {
        var checkpoint = KeyRangeCheckpoint(start: 1)
        checkpoint.insert(1...100)
        checkpoint.insert(201...300)
        var context: ExecutionContext = ["other": .string("kept")]
        checkpoint.save(to: &context, prefix: "t")
        #expect(context.int("t.done_through") == 100)
        #expect(context["t.committed_above"] == .array([.array([.int(201), .int(300)])]))
        #expect(try KeyRangeCheckpoint(context, prefix: "t", start: 1) == checkpoint)
        #expect(context["other"] == .string("kept"))

        // Once everything merged, the list is gone from the context.
        checkpoint.insert(101...200)
        checkpoint.save(to: &context, prefix: "t")
        #expect(context["t.committed_above"] == nil)
        #expect(context.int("t.done_through") == 300)

        // Nothing done yet but a range above the start.
        var above = KeyRangeCheckpoint(start: 1)
        above.insert(501...600)
        var aboveContext = ExecutionContext()
        above.save(to: &aboveContext, prefix: "t")
        #expect(aboveContext["t.done_through"] == nil)
        #expect(try KeyRangeCheckpoint(aboveContext, prefix: "t", start: 1) == above)

        #expect(throws: ItemStreamError.self) { try KeyRangeCheckpoint(["t.done_through": .string("x")], prefix: "t") }
        #expect(throws: ItemStreamError.self) { try KeyRangeCheckpoint(["t.done_through": .int(0)], prefix: "t", start: 1) }
        #expect(throws: ItemStreamError.self) {
            try KeyRangeCheckpoint(["t.committed_above": .array([.array([.int(9), .int(3)])])], prefix: "t")
        }
    }
}
