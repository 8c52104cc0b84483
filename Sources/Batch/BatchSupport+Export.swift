// Batch's public API speaks BatchSupport's types (an `ExecutionContext` holds `JSONValue`s and
// throws `JSONParsingError`), and `Duration.inSeconds` was public here before it moved; so a
// program that imports Batch keeps seeing them without importing BatchSupport itself. Files of
// this package still import BatchSupport explicitly where they use it.
@_exported import BatchSupport
