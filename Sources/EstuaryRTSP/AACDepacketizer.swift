import NIOCore

/// Rebuilds AAC frames from RFC 3640 (`mpeg4-generic`, `mode=AAC-hbr` or `AAC-lbr`) RTP packets.
///
/// Guarantees: every access unit of a packet comes out with its own timestamp (the packet's plus 1024
/// samples per preceding unit); a packet whose AU headers do not add up is reported as damaged and
/// dropped whole; an access unit fragmented over packets is reassembled up to the marker bit.
public struct AACDepacketizer: Sendable {
    public struct Frame: Sendable, Equatable {
        public var data: ByteBuffer
        public var timestamp: UInt32
    }

    let sizeLength: Int
    let indexLength: Int
    let indexDeltaLength: Int
    private var partial: ByteBuffer?

    public init(format: [String: String]) {
        sizeLength = format["sizelength"].flatMap { Int($0) } ?? 13
        indexLength = format["indexlength"].flatMap { Int($0) } ?? 3
        indexDeltaLength = format["indexdeltalength"].flatMap { Int($0) } ?? 3
    }

    /// The frames of one packet, or nil when the packet is damaged.
    public mutating func push(_ packet: RTPPacket) -> [Frame]? {
        var payload = packet.payload
        guard sizeLength > 0, let headerBits = payload.readInteger(as: UInt16.self) else { return nil }
        let headerBytes = (Int(headerBits) + 7) / 8
        guard let headers = payload.readBytes(length: headerBytes) else { return nil }
        var sizes: [Int] = []
        var bit = 0
        func read(_ count: Int) -> Int {
            var value = 0
            for _ in 0..<count {
                value = value << 1 | Int(headers[bit / 8] >> (7 - UInt8(bit % 8)) & 1)
                bit += 1
            }
            return value
        }
        while bit + sizeLength <= Int(headerBits) {
            sizes.append(read(sizeLength))
            let skip = sizes.count == 1 ? indexLength : indexDeltaLength
            guard bit + skip <= Int(headerBits) else { break }
            _ = read(skip)
        }
        if sizes.count == 1, sizes[0] > payload.readableBytes || partial != nil {
            // A fragment of one large access unit.
            var part = payload
            if partial == nil { partial = ByteBuffer() }
            partial!.writeBuffer(&part)
            guard packet.marker else { return [] }
            defer { partial = nil }
            guard partial!.readableBytes == sizes[0] else { return nil }
            return [Frame(data: partial!, timestamp: packet.timestamp)]
        }
        var frames: [Frame] = []
        for (index, size) in sizes.enumerated() {
            guard let data = payload.readSlice(length: size) else { return nil }
            frames.append(Frame(data: data, timestamp: packet.timestamp &+ UInt32(index * 1_024)))
        }
        return frames
    }
}
