import PostgresClient

/// What the keyset reader and the keyset page source build alike: the select list (the key
/// added when the columns lack it), and `FROM table WHERE (condition) AND ` with the condition's
/// placeholders kept as $1...$n, so the key's bounds follow as $n+1...
struct KeysetQuery {
    /// `SELECT "a", "b", "key"`.
    let select: String
    /// Where the key is among the selected columns.
    let keyColumn: Int
    let quotedKey: String
    /// ` FROM "schema"."table" WHERE ("condition") AND `: the key's bounds come next.
    let fromWhere: String
    /// The number of the first placeholder after the condition's.
    let nextParameter: Int
    let conditionBindings: PostgresBindings

    init(table: String, schema: String?, columns: [String], key: String, condition: PostgresQuery?) {
        var selected = columns
        if let index = columns.firstIndex(of: key) {
            keyColumn = index
        } else {
            keyColumn = columns.count
            selected.append(key)
        }
        select = "SELECT " + selected.map(PostgresQuery.quoteIdentifier).joined(separator: ", ")
        quotedKey = PostgresQuery.quoteIdentifier(key)
        var from = " FROM " + (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "")
        from += PostgresQuery.quoteIdentifier(table) + " WHERE "
        if let condition { from += "(" + condition.sql + ") AND " }
        fromWhere = from
        nextParameter = (condition?.bindings.count ?? 0) + 1
        conditionBindings = condition?.bindings ?? PostgresBindings()
    }
}
