import NIOCore

/// One RTP packet (RFC 3550 §5.1): header fields and the payload with CSRCs, extension and padding removed.
public struct RTPPacket: Sendable, Equatable {
    public var payloadType: UInt8
    public var marker: Bool
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var payload: ByteBuffer

    /// Parses a packet; nil for anything that is not RTP version 2 or runs past its end.
    public init?(_ bytes: ByteBuffer) {
        var buffer = bytes
        guard let first = buffer.readInteger(as: UInt8.self), first >> 6 == 2,
            let second = buffer.readInteger(as: UInt8.self),
            let sequence = buffer.readInteger(as: UInt16.self),
            let timestamp = buffer.readInteger(as: UInt32.self),
            let ssrc = buffer.readInteger(as: UInt32.self)
        else { return nil }
        let csrcCount = Int(first & 0x0F)
        guard buffer.readableBytes >= csrcCount * 4 else { return nil }
        buffer.moveReaderIndex(forwardBy: csrcCount * 4)
        if first & 0x10 != 0 {
            guard buffer.readInteger(as: UInt16.self) != nil, let words = buffer.readInteger(as: UInt16.self),
                buffer.readableBytes >= Int(words) * 4
            else { return nil }
            buffer.moveReaderIndex(forwardBy: Int(words) * 4)
        }
        if first & 0x20 != 0 {
            guard let padding = buffer.getInteger(at: buffer.writerIndex - 1, as: UInt8.self), Int(padding) <= buffer.readableBytes else {
                return nil
            }
            buffer.moveWriterIndex(to: buffer.writerIndex - Int(padding))
        }
        self.payloadType = second & 0x7F
        self.marker = second & 0x80 != 0
        self.sequenceNumber = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = buffer
    }
}

/// An RTCP sender report's clock pairing (RFC 3550 §6.4.1): NTP wall-clock time ↔ RTP timestamp.
public struct RTCPSenderReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// UTC microseconds since 1970.
    public var wallClockMicros: Int64
    public var rtpTimestamp: UInt32

    /// Finds the first sender report in a compound RTCP packet.
    public init?(_ bytes: ByteBuffer) {
        var buffer = bytes
        while buffer.readableBytes >= 4 {
            let start = buffer.readerIndex
            guard let first = buffer.readInteger(as: UInt8.self), first >> 6 == 2, let type = buffer.readInteger(as: UInt8.self),
                let words = buffer.readInteger(as: UInt16.self)
            else { return nil }
            let length = (Int(words) + 1) * 4
            if type == 200, length >= 28, let ssrc = buffer.readInteger(as: UInt32.self), let seconds = buffer.readInteger(as: UInt32.self),
                let fraction = buffer.readInteger(as: UInt32.self), let rtp = buffer.readInteger(as: UInt32.self)
            {
                self.ssrc = ssrc
                self.wallClockMicros = (Int64(seconds) - 2_208_988_800) * 1_000_000 + (Int64(fraction) * 1_000_000) >> 32
                self.rtpTimestamp = rtp
                return
            }
            guard buffer.readableBytes >= 0, start + length <= buffer.writerIndex else { return nil }
            buffer.moveReaderIndex(to: start + length)
        }
        return nil
    }
}
