import NIOCore
import Synchronization

/// The RTMP listener's open connections, so that shutdown can close every one of them and wait.
///
/// Guarantees: once ``closeAll()`` has run, a connection that registers afterwards is closed at once, and every
/// connection handler can tell that it ends because the node shuts down.
final class RTMPConnectionRegistry: Sendable {
    private let state = Mutex<(channels: [ObjectIdentifier: any Channel], shuttingDown: Bool)>(([:], false))

    /// Whether ``closeAll()`` has run.
    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    func add(_ channel: any Channel) {
        let admitted = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if !admitted { channel.close(promise: nil) }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Closes every connection; returns when all are closed.
    func closeAll() async {
        let channels = state.withLock { state -> [any Channel] in
            state.shuttingDown = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
        for channel in channels { try? await channel.closeFuture.get() }
    }
}
