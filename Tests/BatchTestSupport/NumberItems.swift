import Batch
import Synchronization

/// A switch a test flips to make items fail, and flips back to "fix the data".
public final class PoisonSwitch: Sendable {
    private let poisoned = Mutex<Set<Int64>>([])
    public init() {}
    public func poison(_ items: Int64...) { poisoned.withLock { $0 = Set(items) } }
    public func cure() { poisoned.withLock { $0 = [] } }
    public func isPoisoned(_ item: Int64) -> Bool { poisoned.withLock { $0.contains(item) } }
}

/// What ``CheckingProcessor`` throws for a poisoned item.
public struct PoisonedItem: Error, CustomStringConvertible {
    public var item: Int64
    public init(item: Int64) { self.item = item }
    public var description: String { "item \(item) is poisoned" }
}

/// Hands out 1...count, checkpointing the next number to read (`numbers.next`).
public final class NumberReader: ItemReader {
    public let count: Int64
    private var next: Int64 = 1
    public init(count: Int64) { self.count = count }
    public func open(_ context: ExecutionContext) throws { next = context.int("numbers.next") ?? 1 }
    public func update(_ context: inout ExecutionContext) throws { context["numbers.next"] = .int(next) }
    public func read(in chunk: ChunkContext) throws -> Int64? {
        guard next <= count else { return nil }
        defer { next += 1 }
        return next
    }
}

/// Hands out `range`, checkpointing the next number to read (`range.next`).
public final class RangeReader: ItemReader {
    public let range: ClosedRange<Int64>
    private var next: Int64
    public init(_ range: ClosedRange<Int64>) {
        self.range = range
        next = range.lowerBound
    }
    public func open(_ context: ExecutionContext) throws { next = context.int("range.next") ?? range.lowerBound }
    public func update(_ context: inout ExecutionContext) throws { context["range.next"] = .int(next) }
    public func read(in chunk: ChunkContext) throws -> Int64? {
        guard next <= range.upperBound else { return nil }
        defer { next += 1 }
        return next
    }
}

/// Filters multiples of ten; throws on a poisoned item.
public struct CheckingProcessor: ItemProcessor {
    public let poison: PoisonSwitch
    public init(poison: PoisonSwitch) { self.poison = poison }
    public func process(_ item: Int64) throws -> Int64? {
        if poison.isPoisoned(item) { throw PoisonedItem(item: item) }
        return item % 10 == 0 ? nil : item
    }
}

/// A failure that goes away when tried again.
public struct Hiccup: TransientFailure, CustomStringConvertible {
    public init() {}
    public var isTransient: Bool { true }
    public var description: String { "a transient hiccup" }
}
