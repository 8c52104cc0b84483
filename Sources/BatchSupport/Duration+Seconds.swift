/// A `Duration` as the seconds that `Thread.sleep(forTimeInterval:)` and `Date` arithmetic take.
extension Duration {
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
