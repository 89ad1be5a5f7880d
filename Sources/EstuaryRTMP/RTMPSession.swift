import NIOCore

/// The server side of one RTMP connection as a pure state machine: the handshake (RTMP §5.2, the plain
/// echo form every encoder accepts), protocol control, and the publish command sequence (connect,
/// releaseStream, FCPublish, createStream, publish, FCUnpublish, deleteStream). It never blocks:
/// the caller feeds bytes and writes what it returns.
///
/// Guarantees: media is passed on only after the caller accepted the publication; a malformed chunk,
/// AMF value or command order throws ``RTMPError`` naming it; acknowledgements are sent at the window
/// size the client asked for.
public struct RTMPSession: Sendable {
    /// What the caller must do next.
    public enum Output: Sendable, Equatable {
        /// Write these bytes to the client.
        case send(ByteBuffer)
        /// The client asks to publish: answer with ``accept()`` or ``reject(code:description:)``.
        case publish(app: String, name: String, query: [String: String])
        /// An audio, video or metadata message of the accepted publication.
        case media(RTMPMessage)
        /// The client ended its publication (FCUnpublish, deleteStream, closeStream).
        case unpublish
    }

    private enum Phase {
        case handshake
        case handshakeAck
        case commands
    }

    static let handshakeSize = 1536
    static let outgoingChunkSize = 4096
    static let windowSize: UInt32 = 2_500_000
    static let mediaStreamID: UInt32 = 1

    private var phase = Phase.handshake
    private var decoder = RTMPChunkDecoder()
    private var encoder = RTMPChunkEncoder()
    private var app = ""
    private var appQuery: [String: String] = [:]
    private var publishing = false
    private var awaitingAnswer = false
    private var publishTransaction: Double = 0
    private var received: UInt64 = 0
    private var acknowledged: UInt64 = 0
    private var peerWindow: UInt64 = 0
    private var pending = ByteBuffer()

    public init() {}

    /// Whether the publication was accepted and goes on.
    public var isPublishing: Bool { publishing }

    /// Takes bytes from the client, in any split; what is not yet a whole unit waits for more.
    public mutating func receive(_ bytes: ByteBuffer) throws(RTMPError) -> [Output] {
        received += UInt64(bytes.readableBytes)
        if pending.readableBytes == 0 {
            pending = bytes
        } else {
            var bytes = bytes
            pending.writeBuffer(&bytes)
        }
        var buffer = pending
        pending = ByteBuffer()
        defer {
            buffer.discardReadBytes()
            pending = buffer
        }
        return try process(&buffer)
    }

    private mutating func process(_ buffer: inout ByteBuffer) throws(RTMPError) -> [Output] {
        var outputs: [Output] = []
        if phase == .handshake {
            guard buffer.readableBytes >= 1 + Self.handshakeSize else { return [] }
            let version = buffer.readInteger(as: UInt8.self)!
            guard version == 3 else { throw .unsupportedVersion(version) }
            let c1 = buffer.readSlice(length: Self.handshakeSize)!
            var out = ByteBufferAllocator().buffer(capacity: 1 + 2 * Self.handshakeSize)
            out.writeInteger(UInt8(3))
            out.writeInteger(UInt32(0))
            out.writeInteger(UInt32(0))
            out.writeBytes((0..<(Self.handshakeSize - 8)).map { _ in UInt8.random(in: 0...255) })
            out.writeImmutableBuffer(c1)
            outputs.append(.send(out))
            phase = .handshakeAck
        }
        if phase == .handshakeAck {
            guard buffer.readableBytes >= Self.handshakeSize else { return outputs }
            buffer.moveReaderIndex(forwardBy: Self.handshakeSize)
            phase = .commands
        }
        for message in try decoder.decode(&buffer) {
            outputs += try handle(message)
        }
        if peerWindow > 0, received - acknowledged >= peerWindow {
            acknowledged = received
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(truncatingIfNeeded: received))
            outputs.append(
                .send(encode(RTMPMessage(typeID: RTMPMessage.Kind.acknowledgement, streamID: 0, timestamp: 0, payload: payload), csid: 2)))
        }
        return outputs
    }

    /// Accepts the publication the last ``Output/publish(app:name:query:)`` asked for.
    public mutating func accept() -> ByteBuffer {
        awaitingAnswer = false
        publishing = true
        var out = ByteBuffer()
        var begin = ByteBuffer()
        begin.writeInteger(UInt16(0))
        begin.writeInteger(Self.mediaStreamID)
        encoder.encode(
            RTMPMessage(typeID: RTMPMessage.Kind.userControl, streamID: 0, timestamp: 0, payload: begin), chunkStream: 2, into: &out)
        out.writeImmutableBuffer(
            status(level: "status", code: "NetStream.Publish.Start", description: "publishing started"))
        return out
    }

    /// Refuses the publication: an `onStatus` error the client shows its user (then close the connection).
    public mutating func reject(code: String, description: String) -> ByteBuffer {
        awaitingAnswer = false
        return status(level: "error", code: code, description: description)
    }

    private func status(level: String, code: String, description: String) -> ByteBuffer {
        command(
            [
                .string("onStatus"), .number(0), .null,
                .object([.init("level", .string(level)), .init("code", .string(code)), .init("description", .string(description))]),
            ], streamID: Self.mediaStreamID, csid: 5)
    }

    private mutating func handle(_ message: RTMPMessage) throws(RTMPError) -> [Output] {
        switch message.typeID {
        case RTMPMessage.Kind.audio, RTMPMessage.Kind.video, RTMPMessage.Kind.dataAMF0:
            return publishing ? [.media(message)] : []
        case RTMPMessage.Kind.windowAcknowledgementSize:
            if let size = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) { peerWindow = UInt64(size) }
            return []
        case RTMPMessage.Kind.commandAMF0, RTMPMessage.Kind.commandAMF3:
            var payload = message.payload
            if message.typeID == RTMPMessage.Kind.commandAMF3 { payload.moveReaderIndex(forwardBy: min(1, payload.readableBytes)) }
            return try command(AMF0Value.decodeAll(payload))
        default:
            return []
        }
    }

    private mutating func command(_ values: [AMF0Value]) throws(RTMPError) -> [Output] {
        guard let name = values.first?.stringValue else { throw .protocolViolation("a command without a name") }
        let transaction = values.count > 1 ? values[1].numberValue ?? 0 : 0
        switch name {
        case "connect":
            guard values.count > 2, let appValue = values[2]["app"]?.stringValue else {
                throw .protocolViolation("connect without an app")
            }
            (app, appQuery) = RTMPPublishRequest.split(appValue.trimmingSlashes)
            var out = ByteBuffer()
            var window = ByteBuffer()
            window.writeInteger(Self.windowSize)
            encoder.encode(
                RTMPMessage(typeID: RTMPMessage.Kind.windowAcknowledgementSize, streamID: 0, timestamp: 0, payload: window), chunkStream: 2,
                into: &out)
            var bandwidth = ByteBuffer()
            bandwidth.writeInteger(Self.windowSize)
            bandwidth.writeInteger(UInt8(2))
            encoder.encode(
                RTMPMessage(typeID: RTMPMessage.Kind.setPeerBandwidth, streamID: 0, timestamp: 0, payload: bandwidth), chunkStream: 2,
                into: &out)
            var size = ByteBuffer()
            size.writeInteger(UInt32(Self.outgoingChunkSize))
            encoder.encode(
                RTMPMessage(typeID: RTMPMessage.Kind.setChunkSize, streamID: 0, timestamp: 0, payload: size), chunkStream: 2, into: &out)
            encoder.chunkSize = Self.outgoingChunkSize
            out.writeImmutableBuffer(
                command(
                    [
                        .string("_result"), .number(transaction),
                        .object([.init("fmsVer", .string("FMS/3,0,1,123")), .init("capabilities", .number(31))]),
                        .object([
                            .init("level", .string("status")), .init("code", .string("NetConnection.Connect.Success")),
                            .init("description", .string("Connection succeeded.")), .init("objectEncoding", .number(0)),
                        ]),
                    ], streamID: 0, csid: 3))
            return [.send(out)]
        case "releaseStream", "FCPublish", "_checkbw":
            guard transaction != 0 else { return [] }
            return [.send(command([.string("_result"), .number(transaction), .null, .undefined], streamID: 0, csid: 3))]
        case "createStream":
            return [
                .send(
                    command([.string("_result"), .number(transaction), .null, .number(Double(Self.mediaStreamID))], streamID: 0, csid: 3))
            ]
        case "publish":
            guard !publishing, !awaitingAnswer else { throw .protocolViolation("publish twice on one connection") }
            guard values.count > 3, let full = values[3].stringValue, !full.isEmpty else {
                throw .protocolViolation("publish without a stream name")
            }
            let (streamName, query) = RTMPPublishRequest.split(full.trimmingSlashes)
            publishTransaction = transaction
            awaitingAnswer = true
            return [.publish(app: app, name: streamName, query: appQuery.merging(query) { $1 })]
        case "FCUnpublish", "deleteStream", "closeStream":
            guard publishing else { return [] }
            publishing = false
            return [.unpublish]
        default:
            return []
        }
    }

    private func command(_ values: [AMF0Value], streamID: UInt32, csid: UInt8) -> ByteBuffer {
        var payload = ByteBuffer()
        for value in values { value.encode(into: &payload) }
        return encode(RTMPMessage(typeID: RTMPMessage.Kind.commandAMF0, streamID: streamID, timestamp: 0, payload: payload), csid: csid)
    }

    private func encode(_ message: RTMPMessage, csid: UInt8) -> ByteBuffer {
        var out = ByteBuffer()
        encoder.encode(message, chunkStream: csid, into: &out)
        return out
    }
}

extension String {
    fileprivate var trimmingSlashes: String {
        var text = Substring(self)
        while text.hasPrefix("/") { text = text.dropFirst() }
        while text.hasSuffix("/") { text = text.dropLast() }
        return String(text)
    }
}
