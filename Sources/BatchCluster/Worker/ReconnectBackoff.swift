/// How long to wait before the next try to reach the repository: doubling from `initial` up to
/// `maximum`, back to `initial` once a try succeeds.
struct ReconnectBackoff: Sendable, Equatable {
    let initial: Duration
    let maximum: Duration
    private(set) var current: Duration

    init(initial: Duration, maximum: Duration) {
        precondition(initial > .zero && maximum >= initial)
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    /// The wait before this try; the next one waits twice as long, up to the maximum.
    mutating func next() -> Duration {
        defer { current = min(current * 2, maximum) }
        return current
    }

    mutating func reset() {
        current = initial
    }
}
