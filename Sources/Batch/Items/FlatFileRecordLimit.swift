/// How long one record of a flat file (a CSV record, a JSON line) may be.
///
/// The readers hold a record in memory whole, so a file that is not what they expect (a binary
/// file, a CSV file with another line ending, one stray quote) must not make them buffer it all.
/// A record past the limit is reported as ``FlatFileParseError/Code/recordTooLong`` and reading
/// goes on after it. Set the limit per reader (`maximumRecordBytes`).
public enum FlatFileRecordLimit {
    /// The readers' default `maximumRecordBytes`: 16 MiB.
    public static let defaultBytes = 16 << 20
}
