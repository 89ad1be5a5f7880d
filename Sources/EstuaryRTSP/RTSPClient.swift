import EstuaryMedia
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Plays an RTSP URL (`rtsp://user:pass@host:554/path`): OPTIONS, DESCRIBE, SETUP per track, PLAY, with Basic
/// or Digest authentication, RTP over TCP (interleaved, the default) or over UDP (`?transport=udp`), keep-alive
/// within the session timeout, and TEARDOWN when stopped.
///
/// Guarantees: `run` returns only when its task is cancelled (after a best-effort TEARDOWN); every failure
/// throws an ``RTSPError`` naming the request or the reason; frames are delivered only once every played
/// track has its codec configuration (or 2 s after PLAY, with the tracks known by then), and video only from
/// a keyframe on, again after any packet loss.
public struct RTSPClient: Sendable {
    public enum Transport: Sendable { case tcp, udp }

    /// The URL sent in requests: without credentials or Estuary's own query options.
    public let requestURL: String
    let host: String
    let port: Int
    let credentials: (user: String, password: String)?
    public let transport: Transport
    let group: any EventLoopGroup

    public init(url: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws(RTSPError) {
        guard let schemeEnd = url.range(of: "://"), url[..<schemeEnd.lowerBound].lowercased() == "rtsp" else {
            throw .malformedResponse("not an rtsp:// URL")
        }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: [Substring] = []
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...].split(separator: "&")
            rest = rest[..<mark]
        }
        let pathStart = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<pathStart]
        let path = rest[pathStart...]
        if let at = authority.lastIndex(of: "@") {
            let info = authority[..<at]
            let colon = info.firstIndex(of: ":") ?? info.endIndex
            let user = String(info[..<colon]).removingPercentEncoding ?? String(info[..<colon])
            let password = colon < info.endIndex ? String(info[info.index(after: colon)...]) : ""
            credentials = (user, password.removingPercentEncoding ?? password)
            authority = authority[authority.index(after: at)...]
        } else {
            credentials = nil
        }
        if let colon = authority.lastIndex(of: ":"), let value = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon])
            port = value
        } else {
            host = String(authority)
            port = 554
        }
        guard !host.isEmpty else { throw .malformedResponse("the URL has no host") }
        transport = query.contains("transport=udp") ? .udp : .tcp
        let kept = query.filter { !$0.hasPrefix("transport=") }
        requestURL = "rtsp://\(authority)\(path.isEmpty ? "/" : path)" + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        self.group = group
    }

    enum Event: Sendable {
        case tcp(ByteBuffer)
        case closed((any Error)?)
        case udp(track: Int, rtcp: Bool, ByteBuffer)
    }

    public func run(into sink: some MediaSink) async throws {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let raw = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            let (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingOldest(50_000))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await bytes in inbound { continuation.yield(.tcp(bytes)) }
                        continuation.yield(.closed(nil))
                    } catch {
                        continuation.yield(.closed(error))
                    }
                }
                var session = Session(client: self, events: events.makeAsyncIterator(), outbound: outbound)
                defer {
                    // Closing the sockets ends the readers above, so the group can finish.
                    continuation.finish()
                    raw.close(promise: nil)
                    for udp in session.udpChannels { udp.channel.close(promise: nil) }
                    group.cancelAll()
                }
                do {
                    try await session.play(into: sink, group: &group, continuation: continuation)
                } catch {
                    if Task.isCancelled, let teardown = session.teardownRequest() {
                        raw.writeAndFlush(teardown, promise: nil)
                    }
                    throw error
                }
            }
        }
    }

    /// One connection's request/response exchange and the packet loop after PLAY.
    struct Session {
        let client: RTSPClient
        var events: AsyncStream<Event>.Iterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var framer = RTSPStreamFramer()
        var pending: [RTSPStreamFramer.Item] = []
        var cseq = 0
        var authenticator: RTSPAuthenticator?
        var sessionID: String?
        var sessionTimeout = 60
        var supportsGetParameter = false
        var tracks: [RTSPTrack] = []
        var udpChannels: [NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>] = []

        init(client: RTSPClient, events: AsyncStream<Event>.Iterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
            self.client = client
            self.events = events
            self.outbound = outbound
            authenticator = client.credentials.map { RTSPAuthenticator(user: $0.user, password: $0.password) }
        }

        func teardownRequest() -> ByteBuffer? {
            guard let sessionID else { return nil }
            return ByteBuffer(string: "TEARDOWN \(client.requestURL) RTSP/1.0\r\nCSeq: \(cseq + 1)\r\nSession: \(sessionID)\r\n\r\n")
        }

        mutating func request(_ method: String, _ url: String, headers: [(String, String)] = []) async throws -> RTSPResponse {
            for attempt in 0..<2 {
                cseq += 1
                var text = "\(method) \(url) RTSP/1.0\r\nCSeq: \(cseq)\r\nUser-Agent: Estuary\r\n"
                if let authorization = authenticator?.authorization(method: method, uri: url) {
                    text += "Authorization: \(authorization)\r\n"
                }
                if let sessionID { text += "Session: \(sessionID)\r\n" }
                for (name, value) in headers { text += "\(name): \(value)\r\n" }
                try await outbound.write(ByteBuffer(string: text + "\r\n"))
                let response = try await awaitResponse(cseq)
                if response.code == 401, attempt == 0, var auth = authenticator, auth.challenge == nil,
                    auth.accept(challenges: response.values(of: "WWW-Authenticate"))
                {
                    authenticator = auth
                    continue
                }
                if response.code == 401 { throw RTSPError.unauthorized(method: method) }
                guard (200..<300).contains(response.code) else {
                    throw RTSPError.status(method: method, code: response.code, reason: response.reason)
                }
                return response
            }
            throw RTSPError.unauthorized(method: method)
        }

        private mutating func awaitResponse(_ sequence: Int) async throws -> RTSPResponse {
            while true {
                let items = try await nextItems()
                for (index, item) in items.enumerated() {
                    if case .response(let response) = item, response.cseq == sequence || response.cseq == nil {
                        pending += items[(index + 1)...]
                        return response
                    }
                    pending.append(item)
                }
            }
        }

        /// The next framed items (held ones first), or an error when the connection ends.
        private mutating func nextItems() async throws -> [RTSPStreamFramer.Item] {
            while true {
                guard let event = await events.next() else { throw CancellationError() }
                switch event {
                case .tcp(let bytes):
                    let items = try framer.feed(bytes)
                    if !items.isEmpty { return items }
                case .closed(let error):
                    if let error { throw error }
                    throw RTSPError.connectionClosed
                case .udp(let track, let rtcp, let bytes):
                    return [.interleaved(channel: UInt8(track * 2 + (rtcp ? 1 : 0)), payload: bytes)]
                }
            }
        }

        mutating func play(
            into sink: some MediaSink, group: inout ThrowingTaskGroup<Void, any Error>, continuation: AsyncStream<Event>.Continuation
        ) async throws {
            let options = try await request("OPTIONS", client.requestURL)
            supportsGetParameter = options[header: "Public"]?.uppercased().contains("GET_PARAMETER") ?? false
            let describe = try await request("DESCRIBE", client.requestURL, headers: [("Accept", "application/sdp")])
            let sdp = try SDPDescription(parsing: String(buffer: describe.body))
            let base = describe[header: "Content-Base"] ?? describe[header: "Content-Location"] ?? client.requestURL
            let sessionBase = SDPDescription.resolve(sdp.control, base: base)
            // One video track (id 1) and one audio track (id 2), the first of each the SDP offers: what every muxer
            // downstream expects, and a bound on the interleaved channels a hostile description can ask for.
            let video = sdp.media.first { ["H264", "H265"].contains($0.encoding) }
            let audio = sdp.media.first { $0.encoding == "MPEG4-GENERIC" }
            for (id, media) in [(1, video), (2, audio)] {
                guard let media,
                    let track = try RTSPTrack(id: id, media: media, controlURL: SDPDescription.resolve(media.control, base: sessionBase))
                else { continue }
                tracks.append(track)
            }
            guard !tracks.isEmpty else { throw RTSPError.noSupportedTracks(sdp.media.map { "\($0.kind) \($0.encoding)" }) }
            for index in tracks.indices {
                let transport: String
                if client.transport == .udp {
                    let (rtp, rtcp) = try await bindPair()
                    udpChannels += [rtp, rtcp]
                    transport = "RTP/AVP;unicast;client_port=\(rtp.channel.localAddress?.port ?? 0)-\(rtcp.channel.localAddress?.port ?? 0)"
                } else {
                    transport = "RTP/AVP/TCP;unicast;interleaved=\(index * 2)-\(index * 2 + 1)"
                }
                let setup = try await request("SETUP", tracks[index].controlURL, headers: [("Transport", transport)])
                if let session = setup[header: "Session"] {
                    let parts = session.split(separator: ";")
                    sessionID = parts.first.map { $0.trimmingCharacters(in: .whitespaces) }
                    for part in parts.dropFirst() where part.trimmingCharacters(in: .whitespaces).hasPrefix("timeout=") {
                        sessionTimeout = Int(part.split(separator: "=").last ?? "") ?? 60
                    }
                }
                let answered = setup[header: "Transport"] ?? ""
                if client.transport == .tcp {
                    guard let range = answered.split(separator: ";").first(where: { $0.hasPrefix("interleaved=") }),
                        let channel = UInt8(range.dropFirst("interleaved=".count).split(separator: "-").first ?? "")
                    else { throw RTSPError.unsupportedTransport(answered) }
                    tracks[index].channel = channel
                } else {
                    guard !answered.contains("/TCP") else { throw RTSPError.unsupportedTransport(answered) }
                    tracks[index].channel = UInt8(index * 2)
                }
            }
            for (offset, udp) in udpChannels.enumerated() {
                group.addTask {
                    try await udp.executeThenClose { inbound, _ in
                        for try await envelope in inbound {
                            continuation.yield(.udp(track: offset / 2, rtcp: offset % 2 == 1, envelope.data))
                        }
                    }
                }
            }
            let play = try await request("PLAY", sessionBase, headers: [("Range", "npt=0.000-")])
            for entry in (play[header: "RTP-Info"] ?? "").split(separator: ",") {
                let fields = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let url = fields.first(where: { $0.hasPrefix("url=") })?.dropFirst(4),
                    let time = fields.first(where: { $0.hasPrefix("rtptime=") }).flatMap({ UInt32($0.dropFirst(8)) }),
                    let index = tracks.firstIndex(where: {
                        $0.controlURL == url || $0.controlURL.hasSuffix("/" + url) || url.hasSuffix($0.controlURL)
                    })
                else { continue }
                tracks[index].setStart(rtpTime: time)
            }
            let keepAlive = keepAliveRequest()
            let interval = Duration.seconds(max(sessionTimeout / 2, 5))
            let outbound = self.outbound
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)
                    try await outbound.write(keepAlive())
                }
            }
            try await relay(into: sink)
        }

        /// The keep-alive request (GET_PARAMETER when the server lists it, else OPTIONS), with fresh CSeq and credentials.
        func keepAliveRequest() -> @Sendable () -> ByteBuffer {
            let method = supportsGetParameter ? "GET_PARAMETER" : "OPTIONS"
            let url = client.requestURL
            let session = sessionID
            let authenticator = Mutex(self.authenticator)
            let counter = Atomic<Int>(100_000)
            return {
                let sequence = counter.add(1, ordering: .relaxed).newValue
                var text = "\(method) \(url) RTSP/1.0\r\nCSeq: \(sequence)\r\nUser-Agent: Estuary\r\n"
                if let authorization = authenticator.withLock({ $0?.authorization(method: method, uri: url) }) {
                    text += "Authorization: \(authorization)\r\n"
                }
                if let session { text += "Session: \(session)\r\n" }
                return ByteBuffer(string: text + "\r\n")
            }
        }

        private mutating func relay(into sink: some MediaSink) async throws {
            let started = ContinuousClock.now
            var declared: [TrackInfo] = []
            var ready = false
            var items = pending
            pending = []
            while true {
                for item in items {
                    switch item {
                    case .interleaved(let channel, let payload):
                        guard let index = tracks.firstIndex(where: { $0.channel == channel || $0.channel &+ 1 == channel }) else {
                            continue
                        }
                        if channel == tracks[index].channel &+ 1 {
                            if let report = RTCPSenderReport(payload) { tracks[index].receive(senderReport: report) }
                            continue
                        }
                        guard let packet = RTPPacket(payload), Int(packet.payloadType) == tracks[index].media.payloadType else { continue }
                        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                        let result = tracks[index].receive(packet, arrivalMicros: now)
                        if let damage = result.damage { sink.inputError("rtsp: \(damage)") }
                        if !ready {
                            ready = tracks.allSatisfy { $0.config != nil } || ContinuousClock.now - started > .seconds(2)
                        }
                        let known = tracks.compactMap(\.info)
                        if ready, known != declared, !known.isEmpty {
                            declared = known
                            sink.setTracks(known)
                        }
                        guard ready, declared.contains(where: { $0.id == tracks[index].id }) else { continue }
                        for frame in result.frames { sink.push(frame) }
                    case .response, .serverRequest:
                        continue
                    }
                }
                items = try await nextItems()
            }
        }

        /// Two UDP sockets for one track's RTP and RTCP, on consecutive ports when possible.
        private func bindPair() async throws -> (
            NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>,
            NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        ) {
            func bind(_ port: Int) async throws -> NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>> {
                try await DatagramBootstrap(group: client.group)
                    .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
                    .bind(host: "0.0.0.0", port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                                wrappingChannelSynchronously: channel)
                        }
                    }
            }
            for _ in 0..<20 {
                let even = Int.random(in: 20_000...60_000) & ~1
                guard let rtp = try? await bind(even) else { continue }
                if let rtcp = try? await bind(even + 1) { return (rtp, rtcp) }
                try? await rtp.channel.close()
            }
            return (try await bind(0), try await bind(0))
        }
    }
}
