import Hummingbird
import Logging
import ServiceLifecycle

extension ApplicationProtocol {
    /// Runs the application until a graceful shutdown or until the caller is cancelled, and never lets a cancellation
    /// reach the accept loop while the listener is open.
    ///
    /// Guarantees:
    /// - A graceful shutdown of the caller's service group reaches the application as before: the listener closes,
    ///   requests in flight get up to `drainLimit` to finish, then the rest is cancelled.
    /// - A cancellation of the caller becomes a graceful shutdown first: the listener closes and the connections it had
    ///   already accepted are handed out; `cancelAfter` later (or as soon as the drain ends) whatever still runs is
    ///   cancelled, so the caller's cancellation ends this call within `cancelAfter` plus the handlers' own unwinding.
    ///
    /// Why: cancelling Hummingbird's accept loop directly drops the connections the listener accepted but had not
    /// handed out yet, unfinished, and SwiftNIO traps on that ("Deinited NIOAsyncWriter without calling finish()",
    /// apple/swift-nio#2813). A node stopped while peers connect to it hit that.
    public func runClosingListenerFirst(drainLimit: Duration, cancelAfter: Duration = .seconds(1)) async throws {
        var configuration = ServiceGroupConfiguration(services: [.init(service: self)], logger: logger)
        configuration.maximumGracefulShutdownDuration = drainLimit
        let group = ServiceGroup(configuration: configuration)
        // Unstructured on purpose: a child task would inherit the caller's cancellation, which is exactly what must not
        // reach the accept loop. It inherits the caller's task locals, so the caller's graceful shutdown still reaches
        // the group, and it is awaited below, so it never outlives this call.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task {
                await group.triggerGracefulShutdown()
                // The listener closes on its event loop at once; the accept loop only has to take what was queued.
                // This task may outlive the call by `cancelAfter`; cancelling a finished task does nothing.
                try? await Task.sleep(for: cancelAfter)
                running.cancel()
            }
        }
    }
}
