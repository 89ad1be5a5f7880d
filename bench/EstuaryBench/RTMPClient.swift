import EstuaryRTMP
import NIOCore

/// What the bench's light RTMP clients (``RTMPPacer``'s publishers, ``RTMPPlayer``) send: the plain handshake and
/// AMF0 commands.
enum RTMPClient {
    /// C0 + C1: version 3 and 1536 zero bytes.
    static let helloSize = 1 + 1536
    /// S0 + S1 + S2, what the server answers before the client may go on.
    static let answerSize = 1 + 2 * 1536

    static func hello(allocator: ByteBufferAllocator) -> ByteBuffer {
        var hello = allocator.buffer(capacity: helloSize)
        hello.writeInteger(UInt8(3))
        hello.writeRepeatingByte(0, count: helloSize - 1)
        return hello
    }

    /// C2, a copy of S1, once `received` holds the whole answer (else nil).
    static func c2(answeringFrom received: ByteBuffer) -> ByteBuffer? {
        guard received.readableBytes >= answerSize else { return nil }
        return received.getSlice(at: received.readerIndex + 1, length: 1536)
    }

    /// Appends a command message (AMF0 `values`) on chunk stream 3 of message stream `stream`.
    static func command(_ values: [AMF0Value], stream: UInt32 = 0, encoder: RTMPChunkEncoder, into out: inout ByteBuffer) {
        var payload = ByteBuffer()
        for value in values { value.encode(into: &payload) }
        encoder.encode(RTMPMessage(typeID: 20, streamID: stream, timestamp: 0, payload: payload), chunkStream: 3, into: &out)
    }
}
