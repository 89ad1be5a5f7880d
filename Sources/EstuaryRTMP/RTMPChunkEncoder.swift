import NIOCore

/// Splits messages into chunks of the size this side announced: a type-0 header on the first chunk,
/// type-3 headers on the rest (with the extended timestamp repeated, as the specification asks).
public struct RTMPChunkEncoder: Sendable {
    /// Our chunk size (announced to the peer with Set Chunk Size before it takes effect).
    public var chunkSize: Int

    public init(chunkSize: Int = 128) {
        self.chunkSize = chunkSize
    }

    /// Appends `message`, sent on chunk stream `csid` (2…63), to `out`.
    public func encode(_ message: RTMPMessage, chunkStream csid: UInt8, into out: inout ByteBuffer) {
        var payload = message.payload
        let extended = message.timestamp >= 0xFF_FFFF
        let field = extended ? 0xFF_FFFF : message.timestamp
        out.writeInteger(csid & 0x3F)
        writeUInt24(field, into: &out)
        writeUInt24(UInt32(payload.readableBytes), into: &out)
        out.writeInteger(message.typeID)
        out.writeInteger(message.streamID, endianness: .little)
        if extended { out.writeInteger(message.timestamp) }
        var first = true
        while first || payload.readableBytes > 0 {
            if !first {
                out.writeInteger(0xC0 | (csid & 0x3F))
                if extended { out.writeInteger(message.timestamp) }
            }
            first = false
            var slice = payload.readSlice(length: min(chunkSize, payload.readableBytes))!
            out.writeBuffer(&slice)
        }
    }

    private func writeUInt24(_ value: UInt32, into out: inout ByteBuffer) {
        out.writeBytes([UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}
