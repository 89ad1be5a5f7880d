import EstuaryMedia
import EstuaryRTSP
import NIOCore

/// `rtsp://user:pass@host:554/path` (`?transport=udp` for RTP over UDP): pulls an IP camera or encoder
/// through ``RTSPClient``.
///
/// Guarantees: every client failure becomes a ``SourceError`` naming the input (credentials masked), so
/// the supervisor reconnects with backoff; a 401 is ``SourceError/unauthorized(url:)``.
public struct RTSPSource: MediaSource {
    public let displayURL: String
    let client: RTSPClient

    public init(url: String, displayURL: String, group: any EventLoopGroup) throws(SourceError) {
        self.displayURL = displayURL
        do {
            client = try RTSPClient(url: url, group: group)
        } catch {
            throw .invalidURL(displayURL, reason: error.description)
        }
    }

    public func run(into sink: some MediaSink) async throws {
        do {
            try await client.run(into: sink)
        } catch {
            if Task.isCancelled { return }
            switch error {
            case RTSPError.unauthorized: throw SourceError.unauthorized(url: displayURL)
            case let error as RTSPError: throw SourceError.connectionFailed(url: displayURL, reason: error.description)
            default: throw SourceError.connectionFailed(url: displayURL, reason: "\(error)")
            }
        }
    }
}
