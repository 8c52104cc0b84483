import Hummingbird
import NIOCore

/// The request context of the dashboard: Hummingbird's, plus the peer's address for the audit.
public struct DashboardContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address, as the audit records it.
    var client: String? { remoteAddress?.ipAddress }
}
