#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds where a CSV record ends: at a line feed outside quotes (RFC 4180), so a quoted field
/// may hold delimiters, doubled quotes and line breaks.
///
/// Quotes count only at the start of a field, as the RFC says; a stray quote elsewhere is left
/// for the field parser to report. A quoted field still open after ``quotedLimit`` bytes is
/// given up at its first line break, so one unbalanced quote cannot swallow the whole file.
struct CSVRecordScanner: RecordScanner {
    private enum State {
        case fieldStart, unquoted, quoted, quoteInQuoted
    }

    static let quote = UInt8(ascii: "\"")
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D

    let delimiter: UInt8
    let quotedLimit: Int
    private var state = State.fieldStart
    /// The first line feed inside quotes, where a record with an unclosed quote is cut.
    private var firstQuotedNewline: Int?
    /// Whether the last record was cut at ``firstQuotedNewline`` because its quote stayed open
    /// past ``quotedLimit``.
    private(set) var gaveUp = false

    /// Whether `character` can separate fields: one ASCII character, not a quote or line break.
    static func isValidDelimiter(_ character: Character) -> Bool {
        guard character.unicodeScalars.count == 1, let byte = character.asciiValue else { return false }
        return byte != quote && byte != lineFeed && byte != carriageReturn
    }

    init(delimiter: UInt8, quotedLimit: Int) {
        self.delimiter = delimiter
        self.quotedLimit = quotedLimit
    }

    /// Whether the record ended (at the end of the file) inside a quoted field.
    var isInsideQuotes: Bool { state == .quoted }

    /// The first line feed inside quotes of the last record, relative to its start.
    var newlineInsideQuotes: Int? { firstQuotedNewline }

    mutating func reset() {
        state = .fieldStart
        firstQuotedNewline = nil
        gaveUp = false
    }

    mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> (content: Int, end: Int)? {
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        var index = from
        while index < count {
            switch state {
            case .fieldStart, .unquoted:
                // Fast path: up to the next line feed, only a quote can change anything.
                let lineEnd = Self.find(Self.lineFeed, in: base, from: index, to: count) ?? count
                guard let quote = Self.find(Self.quote, in: base, from: index, to: lineEnd) else {
                    if lineEnd < count { return Self.ending(bytes, lineFeed: lineEnd) }
                    state = bytes[count - 1] == delimiter ? .fieldStart : .unquoted
                    return nil
                }
                if quote > index { state = bytes[quote - 1] == delimiter ? .fieldStart : .unquoted }
                if state == .fieldStart { state = .quoted }
                index = quote + 1
            case .quoted:
                let quote = Self.find(Self.quote, in: base, from: index, to: count)
                if firstQuotedNewline == nil {
                    firstQuotedNewline = Self.find(Self.lineFeed, in: base, from: index, to: quote ?? count)
                }
                guard let quote else {
                    if count >= quotedLimit, let newline = firstQuotedNewline {
                        gaveUp = true
                        return Self.ending(bytes, lineFeed: newline)
                    }
                    return nil
                }
                state = .quoteInQuoted
                index = quote + 1
            case .quoteInQuoted:
                let byte = bytes[index]
                if byte == Self.quote {
                    state = .quoted
                } else if byte == Self.lineFeed {
                    return Self.ending(bytes, lineFeed: index)
                } else if byte == delimiter {
                    state = .fieldStart
                } else {
                    state = .unquoted
                }
                index += 1
            }
        }
        return nil
    }

    /// The record ending at the line feed at `lineFeed`, without it or a carriage return before it.
    private static func ending(_ bytes: UnsafeBufferPointer<UInt8>, lineFeed: Int) -> (content: Int, end: Int) {
        let content = lineFeed > 0 && bytes[lineFeed - 1] == carriageReturn ? lineFeed - 1 : lineFeed
        return (content, lineFeed + 1)
    }

    static func find(_ byte: UInt8, in base: UnsafePointer<UInt8>, from: Int, to end: Int) -> Int? {
        guard from < end, let found = memchr(base + from, Int32(byte), end - from) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }
}
