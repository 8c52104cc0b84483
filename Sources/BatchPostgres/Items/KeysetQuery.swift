import PostgresClient

/// What the keyset readers and the keyset page source build alike: the select list (the key
/// columns added when the columns lack them), and `FROM table WHERE (condition) AND ` with the
/// condition's placeholders kept as $1...$n, so the key's bounds follow as $n+1...
struct KeysetQuery {
    /// `SELECT "a", "b", "key"`.
    let select: String
    /// Where each key column is among the selected columns.
    let keyColumns: [Int]
    /// Where the (first) key column is among the selected columns.
    var keyColumn: Int { keyColumns[0] }
    let quotedKey: String
    /// `"schema"."table"`.
    let qualifiedTable: String
    /// ` FROM "schema"."table" WHERE ("condition") AND `: the key's bounds come next.
    let fromWhere: String
    /// The number of the first placeholder after the condition's.
    let nextParameter: Int
    let conditionBindings: PostgresBindings

    init(table: String, schema: String?, columns: [String], key: String, condition: PostgresQuery?) {
        self.init(table: table, schema: schema, columns: columns, keys: [key], condition: condition)
    }

    init(table: String, schema: String?, columns: [String], keys: [String], condition: PostgresQuery?) {
        var selected = columns
        var positions: [Int] = []
        for key in keys {
            if let index = selected.firstIndex(of: key) {
                positions.append(index)
            } else {
                positions.append(selected.count)
                selected.append(key)
            }
        }
        keyColumns = positions
        select = "SELECT " + selected.map(PostgresQuery.quoteIdentifier).joined(separator: ", ")
        quotedKey = PostgresQuery.quoteIdentifier(keys[0])
        qualifiedTable = (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "") + PostgresQuery.quoteIdentifier(table)
        var from = " FROM " + qualifiedTable + " WHERE "
        if let condition { from += "(" + condition.sql + ") AND " }
        fromWhere = from
        nextParameter = (condition?.bindings.count ?? 0) + 1
        conditionBindings = condition?.bindings ?? PostgresBindings()
    }
}
