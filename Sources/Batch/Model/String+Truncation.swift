extension String {
    /// The repository's `VARCHAR(2500)` columns (exit messages, short contexts) hold at most this
    /// many characters.
    static let storageColumnLimit = 2500

    /// Cuts the string to at most `limit` Unicode scalars.
    ///
    /// Counting scalars, not `Character`s, is deliberate: PostgreSQL measures `varchar(n)` in code
    /// points, and a single `Character` (an emoji family, a flag) can be many code points, so a
    /// grapheme count could overflow the column.
    func truncated(toUnicodeScalars limit: Int) -> String {
        let scalars = unicodeScalars
        guard let end = scalars.index(scalars.startIndex, offsetBy: limit, limitedBy: scalars.endIndex),
            end != scalars.endIndex
        else {
            return self
        }
        return String(scalars[..<end])
    }

    /// Whether the string has a non-whitespace character, like Spring's `StringUtils.hasText`.
    var hasText: Bool {
        contains { !$0.isWhitespace }
    }
}
