extension Duration {
    /// The duration in seconds, as `Thread.sleep(forTimeInterval:)` and `Date` arithmetic take it.
    ///
    /// A `Double` keeps about 15 significant digits: fine for sleeps and deadlines, not for
    /// exact accounting.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
