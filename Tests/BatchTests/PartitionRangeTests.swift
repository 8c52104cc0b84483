import Batch
import Testing

@Suite("Contiguous key ranges")
struct PartitionRangeTests {
    /// Ranges must cover [min, max] exactly: contiguous, no gap, no overlap.
    static func checkCover(_ ranges: [ClosedRange<Int64>], _ minimum: Int64, _ maximum: Int64) {
        #expect(ranges.first?.lowerBound == minimum)
        #expect(ranges.last?.upperBound == maximum)
        for (a, b) in zip(ranges, ranges.dropFirst()) {
            #expect(a.upperBound &+ 1 == b.lowerBound)
        }
    }

    @Test(arguments: [(Int64(1), Int64(10), 3), (1, 1_000_000, 8), (-50, 49, 7), (5, 5, 8), (1, 3, 8), (0, 99, 100)])
    func rangesCoverTheInterval(_ minimum: Int64, _ maximum: Int64, _ count: Int) {
        let ranges = contiguousRanges(from: minimum, to: maximum, count: count)
        #expect(ranges.count == min(count, Int(maximum - minimum + 1)))
        Self.checkCover(ranges, minimum, maximum)
        let sizes = ranges.map { $0.upperBound - $0.lowerBound + 1 }
        #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1, "balanced widths: \(sizes)")
    }

    @Test func theWholeInt64RangeSplitsWithoutOverflow() {
        let ranges = contiguousRanges(from: .min, to: .max, count: 4)
        #expect(ranges.count == 4)
        Self.checkCover(ranges, .min, .max)
    }

    @Test func keyRangePartitionsNameAndCarryTheirRange() {
        let partition = Partition.keyRange(100...199, index: 3, of: 12)
        #expect(partition.name == "p03")
        #expect(Partition.keyRange(in: partition.context) == 100...199)
        #expect(Partition.keyRange(in: [:]) == nil)
    }
}
