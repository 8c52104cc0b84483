import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The dashboard as a swift-service-lifecycle `Service`: add it to your application's
/// `ServiceGroup` to serve the dashboard beside your own services; it stops with the group
/// (graceful shutdown: requests in flight finish).
///
///     let dashboard = DashboardService(configuration: DashboardConfiguration(
///         databaseURL: url, users: try DashboardUsers.load(path: "/etc/swiftbatch/dashboard-users"), jobs: [billing]))
///     let group = ServiceGroup(services: [dashboard], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
///     try await group.run()
public struct DashboardService: Service {
    public let dashboard: Dashboard
    private let onServerRunning: @Sendable (Int) async -> Void

    /// - Parameter onServerRunning: called with the port once the server listens (useful with port 0).
    public init(
        configuration: DashboardConfiguration, logger: Logger = Logger(label: "swiftbatch.dashboard"),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.dashboard = Dashboard(configuration: configuration, logger: logger)
        self.onServerRunning = onServerRunning
    }

    public func run() async throws {
        try dashboard.configuration.validate()
        try await dashboard.checkRepository()
        let onServerRunning = self.onServerRunning
        let application = dashboard.makeApplication { channel in
            await onServerRunning(channel.localAddress?.port ?? 0)
        }
        do {
            try await application.run()
        } catch {
            await dashboard.close()
            throw error
        }
        await dashboard.close()
    }
}
