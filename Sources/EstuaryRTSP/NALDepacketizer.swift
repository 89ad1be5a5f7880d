import NIOCore

/// Rebuilds H.264 (RFC 6184: single NAL unit, STAP-A, FU-A) and H.265 (RFC 7798: single, AP, FU) access
/// units from RTP packets.
///
/// Guarantees: an access unit ends at the marker bit or when the timestamp changes; a lost packet (a gap
/// in sequence numbers) or a fragment that starts without its first part marks the unit as `damaged`,
/// so the caller can drop frames until the next keyframe instead of decoding corrupt pictures; packets
/// that are not valid for the codec are counted as damage, never trap.
public struct NALDepacketizer: Sendable {
    public enum Codec: Sendable { case h264, h265 }

    /// One access unit: its NAL units (without start codes or lengths) and RTP timestamp.
    public struct AccessUnit: Sendable, Equatable {
        public var units: [ByteBuffer]
        public var timestamp: UInt32
        public var damaged: Bool
    }

    let codec: Codec
    private var units: [ByteBuffer] = []
    private var timestamp: UInt32?
    private var fragment: ByteBuffer?
    private var damaged = false
    private var lastSequence: UInt16?

    public init(codec: Codec) {
        self.codec = codec
    }

    public mutating func push(_ packet: RTPPacket) -> [AccessUnit] {
        var out: [AccessUnit] = []
        if let last = lastSequence, packet.sequenceNumber != last &+ 1 {
            damaged = true
            fragment = nil
        }
        lastSequence = packet.sequenceNumber
        if let current = timestamp, current != packet.timestamp {
            if let unit = finish() { out.append(unit) }
        }
        timestamp = packet.timestamp
        codec == .h264 ? parseH264(packet.payload) : parseH265(packet.payload)
        if packet.marker, let unit = finish() { out.append(unit) }
        return out
    }

    private mutating func finish() -> AccessUnit? {
        defer {
            units = []
            damaged = false
            fragment = nil
            timestamp = nil
        }
        guard let timestamp, !units.isEmpty || damaged else { return nil }
        return AccessUnit(units: units, timestamp: timestamp, damaged: damaged || fragment != nil)
    }

    private mutating func parseH264(_ payload: ByteBuffer) {
        var payload = payload
        guard let first = payload.getInteger(at: payload.readerIndex, as: UInt8.self) else { return }
        switch first & 0x1F {
        case 1...23:
            units.append(payload)
        case 24:
            payload.moveReaderIndex(forwardBy: 1)
            aggregate(&payload)
        case 28:
            guard payload.readableBytes > 2 else { return damage() }
            let header = payload.getInteger(at: payload.readerIndex + 1, as: UInt8.self)!
            payload.moveReaderIndex(forwardBy: 2)
            fragmentPart(&payload, start: header & 0x80 != 0, end: header & 0x40 != 0, header: [(first & 0xE0) | (header & 0x1F)])
        default:
            damage()
        }
    }

    private mutating func parseH265(_ payload: ByteBuffer) {
        var payload = payload
        guard payload.readableBytes >= 2 else { return damage() }
        let first = payload.getInteger(at: payload.readerIndex, as: UInt8.self)!
        let second = payload.getInteger(at: payload.readerIndex + 1, as: UInt8.self)!
        switch (first >> 1) & 0x3F {
        case 0...47:
            units.append(payload)
        case 48:
            payload.moveReaderIndex(forwardBy: 2)
            aggregate(&payload)
        case 49:
            guard payload.readableBytes > 3 else { return damage() }
            let header = payload.getInteger(at: payload.readerIndex + 2, as: UInt8.self)!
            payload.moveReaderIndex(forwardBy: 3)
            fragmentPart(
                &payload, start: header & 0x80 != 0, end: header & 0x40 != 0, header: [(first & 0x81) | ((header & 0x3F) << 1), second])
        default:
            damage()
        }
    }

    private mutating func aggregate(_ payload: inout ByteBuffer) {
        while payload.readableBytes > 0 {
            guard let size = payload.readInteger(as: UInt16.self), let unit = payload.readSlice(length: Int(size)) else { return damage() }
            if size > 0 { units.append(unit) }
        }
    }

    private mutating func fragmentPart(_ payload: inout ByteBuffer, start: Bool, end: Bool, header: [UInt8]) {
        if start {
            if fragment != nil { damaged = true }
            var buffer = ByteBuffer()
            buffer.writeBytes(header)
            fragment = buffer
        }
        guard fragment != nil else { return damage() }
        fragment!.writeBuffer(&payload)
        if end {
            units.append(fragment!)
            fragment = nil
        }
    }

    private mutating func damage() { damaged = true }
}
