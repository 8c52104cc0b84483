extension PostgresQuery {
    /// A piece of a statement with values of its own, spliced into a larger statement with
    /// `\(fragment)`: its values are bound there, numbered in the order they appear.
    ///
    /// One module can thus write part of a statement that another module completes, with no
    /// value ever becoming SQL text:
    ///
    ///     let condition: PostgresQuery.Fragment = "owner = \(owner)"
    ///     let query: PostgresQuery = "UPDATE t SET x = \(x) WHERE \(condition)"
    public struct Fragment: Sendable, ExpressibleByStringInterpolation {
        /// The text between values: one more segment than there are values.
        var segments: [String]
        var bindings: PostgresBindings

        public init(stringLiteral value: String) {
            segments = [value]
            bindings = PostgresBindings()
        }

        public init(stringInterpolation: StringInterpolation) {
            segments = stringInterpolation.segments
            bindings = stringInterpolation.bindings
        }

        public struct StringInterpolation: StringInterpolationProtocol {
            var segments: [String] = [""]
            var bindings: PostgresBindings

            public init(literalCapacity: Int, interpolationCount: Int) {
                segments.reserveCapacity(interpolationCount + 1)
                bindings = PostgresBindings(capacity: interpolationCount)
            }

            public mutating func appendLiteral(_ literal: String) {
                segments[segments.count - 1] += literal
            }

            /// Binds `value` where it stands.
            public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
                bindings.append(value)
                segments.append("")
            }

            /// Binds `value`, or SQL NULL when it is nil.
            public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
                bindings.append(value)
                segments.append("")
            }

            /// Appends text to the SQL as it is.
            ///
            /// - Important: only for text the program itself wrote; never for input.
            public mutating func appendInterpolation(unsafeRaw text: String) {
                segments[segments.count - 1] += text
            }
        }
    }
}

extension PostgresQuery.StringInterpolation {
    /// Splices `fragment` in: its text as it is, its values bound as this statement's next
    /// parameters.
    public mutating func appendInterpolation(_ fragment: PostgresQuery.Fragment) {
        for index in 0..<fragment.bindings.count {
            sql += fragment.segments[index]
            bindings.append(binding: index, of: fragment.bindings)
            sql += "$\(bindings.count)"
        }
        sql += fragment.segments[fragment.bindings.count]
    }
}

extension PostgresBindings {
    /// Appends the value `index` of `other` (its bytes, or its NULL, and its type).
    mutating func append(binding index: Int, of other: PostgresBindings) {
        types.append(other.types[index])
        if firstNUL == nil, let nul = other.firstNUL, nul.parameter == index {
            firstNUL = (offsets.count, nul.byte)
        }
        let start = other.offsets[index]
        guard start >= 0 else {
            offsets.append(-1)
            return
        }
        offsets.append(storage.count)
        var end = start
        while other.storage[end] != 0 { end += 1 }
        storage.append(contentsOf: other.storage[start...end])
    }
}
