/// A worker cannot start or go on; the message says why.
public struct WorkerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
