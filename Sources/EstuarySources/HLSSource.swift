import AsyncHTTPClient
import EstuaryConfig
import EstuaryHLS
import EstuaryMP4
import EstuaryMedia
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `hls://host/path/index.m3u8` (`hlss://` for HTTPS): pulls a live HLS stream. A master playlist's
/// highest-bandwidth variant is taken (or the one nearest `?bandwidth=N`); MPEG-TS and fMP4
/// (`#EXT-X-MAP`) segments are read in order.
///
/// Guarantees: playback starts three segments from the live edge; the media playlist is reloaded every
/// target duration (half of it when nothing changed, RFC 8216 §6.3.4); a segment that fails is retried
/// twice and then skipped with an input error, and a jump in sequence numbers (segments that expired
/// before we read them) or an `#EXT-X-DISCONTINUITY` is passed on as a discontinuity, never as a
/// timestamp jump; a playlist that cannot be fetched or read ends the attempt with a ``SourceError``, so
/// the supervisor reconnects with backoff; `#EXT-X-ENDLIST` ends it after the last segment.
public struct HLSSource: MediaSource {
    public let displayURL: String
    let playlistURL: String
    let bandwidth: Int?
    let client: HTTPClient
    let progress: HLSProgress
    let progressKey: String

    /// Segments from the live edge where playback starts.
    static let liveEdgeSegments = 3

    public init(
        url: String, displayURL: String, client: HTTPClient, stream: String = "", progress: HLSProgress = HLSProgress()
    ) throws(SourceError) {
        let parsed = try InputURL(parsing: url)
        guard !parsed.host.isEmpty else { throw .invalidURL(displayURL, reason: "missing host") }
        let scheme = parsed.scheme == "hlss" ? "https" : "http"
        let rest = url[url.range(of: "://")!.upperBound...]
        var requestURL = "\(scheme)://\(rest)"
        bandwidth = parsed.queryValue("bandwidth").flatMap { Int($0) }
        if bandwidth != nil, let mark = requestURL.firstIndex(of: "?") {
            let kept = requestURL[requestURL.index(after: mark)...].split(separator: "&").filter { !$0.hasPrefix("bandwidth=") }
            requestURL = String(requestURL[..<mark]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        }
        self.playlistURL = requestURL
        self.displayURL = displayURL
        self.client = client
        self.progress = progress
        self.progressKey = "\(stream) \(requestURL)"
    }

    public func run(into sink: some MediaSink) async throws {
        var mediaURL = playlistURL
        var playlist = try await fetchPlaylist(mediaURL)
        if case .master(let variants) = playlist {
            let chosen =
                bandwidth.flatMap { wanted in variants.min { abs($0.bandwidth - wanted) < abs($1.bandwidth - wanted) } }
                ?? variants.max { $0.bandwidth < $1.bandwidth }!
            mediaURL = HLSPlaylist.resolve(chosen.uri, against: mediaURL)
            playlist = try await fetchPlaylist(mediaURL)
        }
        var reader = SegmentReader()
        // A reconnect continues after the last segment read, rather than replaying the live edge; a playlist
        // whose sequence went back (the origin restarted) is joined at its edge again.
        var next = progress.next(progressKey)
        if let resume = next, case .media(let media) = playlist, let last = media.segments.last?.sequence, last + 1 < resume {
            next = nil
        }
        while !Task.isCancelled {
            guard case .media(let media) = playlist else {
                throw SourceError.malformedInput(url: displayURL, reason: "a variant playlist lists variants again")
            }
            let fresh = media.segments.filter { $0.sequence >= (next ?? 0) }
            // A live playlist is joined near its edge; one that has ended is read whole.
            let start = media.ended ? media.segments : Array(media.segments.suffix(Self.liveEdgeSegments))
            var toRead = next == nil ? start : fresh
            if let expected = next, let first = toRead.first, first.sequence > expected {
                sink.inputError("HLS: segments \(expected)…\(first.sequence - 1) expired before they were read")
                toRead[0].discontinuity = true
            }
            for segment in toRead {
                if Task.isCancelled { return }
                try await read(segment, of: mediaURL, reader: &reader, into: sink)
                next = segment.sequence + 1
                progress.record(progressKey, next: segment.sequence + 1)
            }
            if media.ended {
                reader.finish(into: sink)
                throw SourceError.endOfStream(url: displayURL)
            }
            let pause = toRead.isEmpty ? media.targetDuration / 2 : media.targetDuration
            try? await Task.sleep(for: .milliseconds(Int(pause * 1_000)))
            if Task.isCancelled { return }
            playlist = try await fetchPlaylist(mediaURL)
        }
    }

    /// One segment, with up to two retries; skipped (reported) when it cannot be had.
    private func read(_ segment: HLSPlaylist.Segment, of base: String, reader: inout SegmentReader, into sink: some MediaSink) async throws
    {
        if segment.discontinuity {
            reader.finish(into: sink)
            reader = SegmentReader()
            sink.discontinuity()
        }
        if let map = segment.initializationURI, reader.initializationURI != map {
            let bytes = try await fetch(HLSPlaylist.resolve(map, against: base), attempts: 3)
            reader.initializationURI = map
            reader.feedMP4(bytes, into: sink)
        }
        let url = HLSPlaylist.resolve(segment.uri, against: base)
        do {
            let bytes = try await fetch(url, attempts: 3)
            if segment.initializationURI != nil {
                reader.feedMP4(bytes, into: sink)
            } else {
                reader.feedTS(bytes, into: sink)
            }
        } catch let error as SourceError {
            if Task.isCancelled { return }
            sink.inputError("HLS: segment \(segment.sequence) skipped: \(error)")
            reader.finish(into: sink)
            reader = SegmentReader(initializationURI: nil)
            sink.discontinuity()
        }
    }

    private func fetchPlaylist(_ url: String) async throws -> HLSPlaylist {
        let bytes = try await fetch(url, attempts: 1)
        do {
            return try HLSPlaylist.parse(String(buffer: bytes))
        } catch {
            throw SourceError.malformedInput(url: displayURL, reason: "\(error)")
        }
    }

    /// GETs a URL whole; 404 and 5xx are retried (0.5 s apart) up to `attempts` times.
    private func fetch(_ url: String, attempts: Int) async throws -> ByteBuffer {
        var lastError = SourceError.connectionFailed(url: displayURL, reason: "not attempted")
        for attempt in 0..<attempts {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(500)) }
            do {
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                guard response.status == .ok else {
                    lastError = .httpStatus(url: SecretMasking.mask(url: url), status: Int(response.status.code))
                    _ = try? await response.body.collect(upTo: 1 << 16)
                    continue
                }
                return try await response.body.collect(upTo: 64 << 20)
            } catch let error as SourceError {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastError = .connectionFailed(url: SecretMasking.mask(url: url), reason: "\(error)")
            }
        }
        throw lastError
    }
}

/// Where each HLS input of a node stopped reading (by stream and playlist URL), kept across reconnects.
public final class HLSProgress: Sendable {
    private let positions = Mutex<[String: Int]>([:])

    public init() {}

    func next(_ key: String) -> Int? { positions.withLock { $0[key] } }

    func record(_ key: String, next: Int) { positions.withLock { $0[key] = next } }
}

/// Reads consecutive segments of one variant: one MPEG-TS demuxer, or one fMP4 reader, across segments.
struct SegmentReader {
    var initializationURI: String?
    var ts = TSFeeder()
    var mp4 = M4FReader()

    init(initializationURI: String? = nil) {
        self.initializationURI = initializationURI
    }

    mutating func feedTS(_ bytes: ByteBuffer, into sink: some MediaSink) {
        ts.feed(bytes, into: sink)
    }

    mutating func feedMP4(_ bytes: ByteBuffer, into sink: some MediaSink) {
        let events = mp4.feed(bytes, arrivalMicros: WallClock.nowMicros())
        for event in events {
            switch event {
            case .initialization(let tracks, _): sink.setTracks(tracks)
            case .fragment(let fragment):
                for frame in fragment.frames { sink.push(frame) }
                sink.flush()
            case .error(let error): sink.inputError("HLS: \(error)")
            }
        }
    }

    mutating func finish(into sink: some MediaSink) {
        ts.finish(into: sink)
    }
}
