import NIOCore

/// Constants of the MPEG-2 transport stream format (ISO/IEC 13818-1) that Estuary uses.
public enum MPEGTS {
    /// Every transport packet is exactly this many bytes.
    public static let packetSize = 188
    /// The first byte of every transport packet.
    public static let syncByte: UInt8 = 0x47
    /// The PID of the program association table.
    public static let patPID = 0x0000
    /// The PID of null (padding) packets.
    public static let nullPID = 0x1FFF
    /// PMT `stream_type` of H.264 video.
    public static let streamTypeH264: UInt8 = 0x1B
    /// PMT `stream_type` of H.265 video.
    public static let streamTypeH265: UInt8 = 0x24
    /// PMT `stream_type` of AAC audio in ADTS framing.
    public static let streamTypeAAC: UInt8 = 0x0F
    /// Timestamps (PTS, DTS, PCR base) are 33-bit counters that wrap at this value.
    public static let timestampModulus: Int64 = 1 << 33
}

/// The 4-byte header and adaptation-field summary of one 188-byte transport packet.
///
/// Parsing never reads outside the packet; a malformed adaptation field is reported
/// as ``TSDemuxError/invalidAdaptationField(pid:length:)``.
struct TSPacketHeader: Sendable, Equatable {
    var transportError: Bool
    var payloadUnitStart: Bool
    var pid: Int
    var scrambling: UInt8
    var hasAdaptationField: Bool
    var hasPayload: Bool
    var continuityCounter: UInt8
    /// `discontinuity_indicator` of the adaptation field.
    var discontinuity: Bool
    /// `random_access_indicator` of the adaptation field.
    var randomAccess: Bool
    /// Offset of the payload inside the packet (4 … 188).
    var payloadOffset: Int

    /// Parses the header of the packet at `index` in `buffer` (the caller has checked that
    /// 188 readable bytes are there). Returns `nil`, never traps, if the header is not readable.
    static func parse(_ buffer: ByteBuffer, at index: Int) throws(TSDemuxError) -> TSPacketHeader? {
        guard let b1 = buffer.getInteger(at: index + 1, as: UInt8.self),
            let b2 = buffer.getInteger(at: index + 2, as: UInt8.self),
            let b3 = buffer.getInteger(at: index + 3, as: UInt8.self)
        else { return nil }
        let pid = Int(b1 & 0x1F) << 8 | Int(b2)
        var header = TSPacketHeader(
            transportError: b1 & 0x80 != 0, payloadUnitStart: b1 & 0x40 != 0, pid: pid,
            scrambling: b3 >> 6, hasAdaptationField: b3 & 0x20 != 0, hasPayload: b3 & 0x10 != 0,
            continuityCounter: b3 & 0x0F, discontinuity: false, randomAccess: false, payloadOffset: 4)
        if header.hasAdaptationField {
            guard let length = buffer.getInteger(at: index + 4, as: UInt8.self).map(Int.init) else { return nil }
            // 183 is the most a packet can hold (182 when a payload follows; a zero-length
            // payload after 183 is tolerated).
            guard length <= 183 else {
                throw .invalidAdaptationField(pid: pid, length: length)
            }
            if length > 0, let flags = buffer.getInteger(at: index + 5, as: UInt8.self) {
                header.discontinuity = flags & 0x80 != 0
                header.randomAccess = flags & 0x40 != 0
            }
            header.payloadOffset = 5 + length
        }
        return header
    }
}
