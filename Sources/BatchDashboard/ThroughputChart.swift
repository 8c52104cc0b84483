import Foundation

/// A server-rendered SVG chart of a partitioned step: items written per second over time (bars)
/// and the share of partitions finished (line).
///
/// The repository keeps each partition's totals, not the time of each chunk, so each
/// partition's items are spread evenly over its run (as `batch_dashboard_throughput` does):
/// exact over whole runs, an average within one partition.
enum ThroughputChart {
    static let buckets = 60

    static func svg(spans: [PartitionSpan], total: Int, now: Date) -> String {
        guard let start = spans.map(\.start).min() else {
            return "<p class=\"muted\">No partition has started yet.</p>"
        }
        let end = max(spans.map(\.end).max() ?? now, start.addingTimeInterval(1))
        let length = end.timeIntervalSince(start)
        let width = length / Double(buckets)
        var written = [Double](repeating: 0, count: buckets)
        var finished = [Int](repeating: 0, count: buckets)
        for span in spans {
            let from = span.start.timeIntervalSince(start)
            let to = max(span.end.timeIntervalSince(start), from)
            if span.finished {
                finished[min(buckets - 1, Int(to / width))] += 1
            }
            guard span.written > 0 else { continue }
            if to - from < 1e-6 {
                written[min(buckets - 1, Int(from / width))] += Double(span.written)
                continue
            }
            let perSecond = Double(span.written) / (to - from)
            var index = min(buckets - 1, Int(from / width))
            while index < buckets {
                let bucketStart = Double(index) * width
                let bucketEnd = bucketStart + width
                let overlap = min(to, bucketEnd) - max(from, bucketStart)
                if overlap > 0 { written[index] += perSecond * overlap }
                if bucketEnd >= to { break }
                index += 1
            }
        }
        let rates = written.map { $0 / width }
        let peak = max(rates.max() ?? 0, 1)
        let (w, h, left, bottom, top) = (720.0, 220.0, 56.0, 24.0, 10.0)
        let plotW = w - left - 8
        let plotH = h - bottom - top
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"items written per second, and partitions finished, over time\">"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top + plotH)\" x2=\"\(w - 8)\" y2=\"\(top + plotH)\"/>"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotH)\"/>"
        let barW = plotW / Double(buckets)
        for (index, rate) in rates.enumerated() where rate > 0 {
            let barH = rate / peak * plotH
            svg += String(
                format: "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%@ items/s</title></rect>",
                left + Double(index) * barW + 0.5, top + plotH - barH, max(barW - 1, 0.5), barH, Format.rate(rate))
        }
        if total > 0 {
            var points: [String] = [String(format: "%.1f,%.1f", left, top + plotH)]
            var done = 0
            for (index, count) in finished.enumerated() {
                done += count
                let x = left + Double(index + 1) * barW
                let y = top + plotH - Double(done) / Double(total) * plotH
                points.append(String(format: "%.1f,%.1f", x, y))
            }
            svg += "<polyline class=\"line\" points=\"\(points.joined(separator: " "))\"><title>partitions finished</title></polyline>"
        }
        svg += "<text x=\"\(left - 4)\" y=\"\(top + 10)\" text-anchor=\"end\">\(Format.rate(peak))</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + plotH)\" text-anchor=\"end\">0</text>"
        svg += "<text x=\"\(left)\" y=\"\(h - 6)\">\(Format.time(start).suffix(8))</text>"
        svg += "<text x=\"\(w - 8)\" y=\"\(h - 6)\" text-anchor=\"end\">\(Format.time(end).suffix(8)) (\(Format.clock(length)))</text>"
        svg += "</svg>"
        svg += "<p class=\"small muted\">Bars: items written per second (peak \(Format.rate(peak))); line: share of the \(total) partitions finished.</p>"
        return svg
    }
}
