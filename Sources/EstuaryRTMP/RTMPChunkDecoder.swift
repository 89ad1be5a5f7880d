import NIOCore

/// Reassembles RTMP messages from the chunk stream (RTMP §5.3), taking bytes in any split.
///
/// Guarantees: a message is returned only when all its chunks arrived; nothing is consumed from the
/// input until a whole chunk is there; chunk sizes outside 1…2³¹−1 and messages over
/// ``maximumMessageSize`` are ``RTMPError/malformedChunk(_:)``, and so is a chunk that continues a
/// chunk stream never started.
public struct RTMPChunkDecoder: Sendable {
    /// The largest message accepted (a video frame of a 4K intra picture fits easily).
    public static let maximumMessageSize = 8 << 20
    /// The most bytes held in unfinished messages across all chunk streams.
    public static let maximumBufferedBytes = 32 << 20

    /// Bytes held in unfinished messages now.
    public private(set) var bufferedBytes = 0

    /// The peer's chunk size (128 until it sends Set Chunk Size).
    public private(set) var chunkSize = 128
    private struct ChunkStream {
        var timestamp: UInt32 = 0
        /// The last timestamp field read: absolute after a type-0 header, the delta after types 1 and 2.
        var timestampField: UInt32 = 0
        var extended = false
        var length = 0
        var typeID: UInt8 = 0
        var streamID: UInt32 = 0
        var started = false
        var partial: ByteBuffer?
    }
    private var streams: [Int: ChunkStream] = [:]

    public init() {}

    /// Decodes every whole chunk at the front of `buffer` and returns the messages they complete.
    public mutating func decode(_ buffer: inout ByteBuffer) throws(RTMPError) -> [RTMPMessage] {
        var messages: [RTMPMessage] = []
        while let message = try decodeChunk(&buffer) {
            if let message { messages.append(message) }
        }
        return messages
    }

    /// One chunk: nil when not all of it is there yet (nothing consumed), `.some(nil)` for a chunk that
    /// does not finish its message.
    private mutating func decodeChunk(_ buffer: inout ByteBuffer) throws(RTMPError) -> RTMPMessage?? {
        var view = buffer
        guard let first = view.readInteger(as: UInt8.self) else { return nil }
        let format = first >> 6
        var csid = Int(first & 0x3F)
        if csid == 0 {
            guard let byte = view.readInteger(as: UInt8.self) else { return nil }
            csid = 64 + Int(byte)
        } else if csid == 1 {
            guard let low = view.readInteger(as: UInt8.self), let high = view.readInteger(as: UInt8.self) else { return nil }
            csid = 64 + Int(low) + Int(high) * 256
        }
        var stream = streams[csid] ?? ChunkStream()
        if format != 0, !stream.started {
            throw .malformedChunk("chunk stream \(csid) continues (header type \(format)) without having started")
        }
        var field: UInt32?
        switch format {
        case 0:
            guard view.readableBytes >= 11 else { return nil }
            field = readUInt24(&view)
            stream.length = Int(readUInt24(&view))
            stream.typeID = view.readInteger(as: UInt8.self)!
            stream.streamID = view.readInteger(endianness: .little, as: UInt32.self)!
        case 1:
            guard view.readableBytes >= 7 else { return nil }
            field = readUInt24(&view)
            stream.length = Int(readUInt24(&view))
            stream.typeID = view.readInteger(as: UInt8.self)!
        case 2:
            guard view.readableBytes >= 3 else { return nil }
            field = readUInt24(&view)
        default:
            break
        }
        if let value = field {
            stream.extended = value == 0xFF_FFFF
        }
        if stream.extended {
            guard let value = view.readInteger(as: UInt32.self) else { return nil }
            if field != nil { field = value }
        }
        guard stream.length <= Self.maximumMessageSize else {
            throw .malformedChunk("message of \(stream.length) bytes on chunk stream \(csid) exceeds \(Self.maximumMessageSize)")
        }
        let startsMessage = stream.partial == nil
        let have = stream.partial?.readableBytes ?? 0
        if have > stream.length { throw .malformedChunk("message length on chunk stream \(csid) shrank below the bytes received") }
        let take = min(chunkSize, stream.length - have)
        guard view.readableBytes >= take else { return nil }
        if startsMessage {
            if let field {
                stream.timestamp = format == 0 ? field : stream.timestamp &+ field
                stream.timestampField = field
            } else {
                stream.timestamp = stream.timestamp &+ stream.timestampField
            }
        }
        stream.started = true
        guard bufferedBytes + take <= Self.maximumBufferedBytes else {
            throw .malformedChunk("more than \(Self.maximumBufferedBytes) bytes in unfinished messages")
        }
        var slice = view.readSlice(length: take)!
        var payload: ByteBuffer
        if let partial = stream.partial {
            payload = partial
            payload.writeBuffer(&slice)
        } else if take == stream.length {
            // A message in one chunk: its bytes as received, without a copy.
            payload = slice
        } else {
            payload = ByteBufferAllocator().buffer(capacity: min(stream.length, 1 << 16))
            payload.writeBuffer(&slice)
        }
        buffer = view
        bufferedBytes += take
        if payload.readableBytes == stream.length {
            bufferedBytes -= payload.readableBytes
            stream.partial = nil
            streams[csid] = stream
            let message = RTMPMessage(typeID: stream.typeID, streamID: stream.streamID, timestamp: stream.timestamp, payload: payload)
            if message.typeID == RTMPMessage.Kind.setChunkSize {
                guard let size = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self),
                    (1...0x7FFF_FFFF).contains(size)
                else { throw .malformedChunk("Set Chunk Size to an invalid value") }
                chunkSize = Int(size)
            } else if message.typeID == RTMPMessage.Kind.abort,
                let aborted = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self)
            {
                bufferedBytes -= streams[Int(aborted)]?.partial?.readableBytes ?? 0
                streams[Int(aborted)]?.partial = nil
            }
            return .some(message)
        }
        stream.partial = payload
        streams[csid] = stream
        return .some(nil)
    }

    private func readUInt24(_ buffer: inout ByteBuffer) -> UInt32 {
        let bytes = buffer.readBytes(length: 3)!
        return UInt32(bytes[0]) << 16 | UInt32(bytes[1]) << 8 | UInt32(bytes[2])
    }
}
