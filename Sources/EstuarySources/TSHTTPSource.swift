import AsyncHTTPClient
import EstuaryMPEGTS
import EstuaryMedia
import NIOCore
import NIOHTTP1

/// `tshttp://host/path` or `http(s)://host/path`: pulls an endless MPEG-TS body over HTTP.
public struct TSHTTPSource: MediaSource {
    public let displayURL: String
    let requestURL: String
    let client: HTTPClient

    public init(url: String, displayURL: String, client: HTTPClient) throws(SourceError) {
        var url = url
        if url.lowercased().hasPrefix("tshttp://") { url = "http://" + url.dropFirst("tshttp://".count) }
        if url.lowercased().hasPrefix("tshttps://") { url = "https://" + url.dropFirst("tshttps://".count) }
        let parsed = try InputURL(parsing: url)
        guard !parsed.host.isEmpty else { throw .invalidURL(displayURL, reason: "missing host") }
        self.displayURL = displayURL
        self.requestURL = url
        self.client = client
    }

    public func run(into sink: some MediaSink) async throws {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(HTTPClientRequest(url: requestURL), timeout: .seconds(10))
        } catch {
            if Task.isCancelled { return }
            throw SourceError.connectionFailed(url: displayURL, reason: "\(error)")
        }
        guard response.status == .ok else { throw SourceError.httpStatus(url: displayURL, status: Int(response.status.code)) }
        var feeder = TSFeeder()
        do {
            for try await bytes in response.body {
                feeder.feed(bytes, into: sink)
            }
        } catch {
            if Task.isCancelled { return }
            throw SourceError.connectionFailed(url: displayURL, reason: "\(error)")
        }
        if Task.isCancelled { return }
        feeder.finish(into: sink)
        throw SourceError.endOfStream(url: displayURL)
    }
}

/// Runs bytes through a ``TSDemuxer`` into a sink, reporting demuxer errors to it.
struct TSFeeder {
    var demuxer = TSDemuxer()

    // `deliver` is static and the events are taken first: calling a method of `self` with
    // `demuxer.feed(…)` as its argument makes Swift copy `self`, and a copied demuxer's
    // buffers are then shared, so its next write copies each of them whole.
    mutating func feed(_ bytes: ByteBuffer, into sink: some MediaSink) {
        let events = demuxer.feed(bytes, wallClockMicros: WallClock.nowMicros())
        Self.deliver(events, into: sink)
    }

    mutating func finish(into sink: some MediaSink) {
        let events = demuxer.flush()
        Self.deliver(events, into: sink)
    }

    private static func deliver(_ events: [TSDemuxer.Event], into sink: some MediaSink) {
        for event in events {
            switch event {
            case .tracks(let tracks): sink.setTracks(tracks)
            case .frame(let frame): sink.push(frame)
            case .error(let error): sink.inputError("\(error)")
            }
        }
    }
}
