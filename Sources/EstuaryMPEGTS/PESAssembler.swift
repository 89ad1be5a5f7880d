import NIOCore

/// Reassembles the PES packets of one PID from transport-packet payloads.
///
/// A PES starts at a packet with `payload_unit_start_indicator` and is complete when it
/// reaches its declared `PES_packet_length`, or (for the unbounded length 0, and for any
/// PES cut short) when the next unit start arrives. Memory is bounded by `maxSize`:
/// a PES that grows past it is reported and dropped. Bytes that arrive while no PES is
/// open (after a loss, before the first unit start) are ignored.
struct PESAssembler: Sendable {
    /// What adding a payload produced, in order.
    enum Output: Sendable {
        /// One reassembled PES (header included) and the wall clock of its first packet.
        case pes(ByteBuffer, wallClockMicros: Int64)
        case error(TSDemuxError)
    }

    private enum Length: Sendable {
        case unknown
        case unbounded
        case bounded(Int)
    }

    let pid: Int
    let maxSize: Int
    private var buffer = ByteBuffer()
    /// The size of the last PES begun, so the next buffer rarely has to grow.
    private var lastSize = 4096
    private var open = false
    private var length = Length.unknown
    private var wallClockMicros: Int64 = 0

    init(pid: Int, maxSize: Int) {
        self.pid = pid
        self.maxSize = maxSize
    }

    /// Whether a PES is being collected.
    var isOpen: Bool { open }

    /// Adds one packet's payload; appends finished PES packets and errors to `output`.
    mutating func append(_ payload: ByteBuffer, unitStart: Bool, wallClockMicros: Int64, into output: inout [Output]) {
        if unitStart {
            if open { finish(into: &output) }
            open = true
            length = .unknown
            buffer = ByteBufferAllocator().buffer(capacity: min(lastSize + lastSize / 4, maxSize))
            self.wallClockMicros = wallClockMicros
        }
        guard open else { return }
        buffer.writeImmutableBuffer(payload)
        if case .unknown = length, buffer.readableBytes >= 6 {
            let start = buffer.readerIndex
            let prefix =
                Int(buffer.getInteger(at: start, as: UInt16.self) ?? 0) << 8
                | Int(buffer.getInteger(at: start + 2, as: UInt8.self) ?? 0)
            guard prefix == 0x00_0001 else {
                output.append(.error(.invalidPESHeader(pid: pid, field: "packet_start_code_prefix", value: prefix)))
                drop()
                return
            }
            let declared = Int(buffer.getInteger(at: start + 4, as: UInt16.self) ?? 0)
            length = declared == 0 ? .unbounded : .bounded(declared + 6)
        }
        if case .bounded(let total) = length, buffer.readableBytes >= total {
            if let pes = buffer.getSlice(at: buffer.readerIndex, length: total) {
                output.append(.pes(pes, wallClockMicros: self.wallClockMicros))
            }
            drop()
        } else if buffer.readableBytes > maxSize {
            output.append(.error(.pesTooLarge(pid: pid, size: buffer.readableBytes, limit: maxSize)))
            drop()
        }
    }

    /// Completes the open PES at the end of its unit or of the input: an unbounded PES is
    /// emitted; a bounded one short of its declared length is reported and dropped.
    mutating func finish(into output: inout [Output]) {
        guard open else { return }
        switch length {
        case .unbounded:
            output.append(.pes(buffer, wallClockMicros: wallClockMicros))
        case .bounded(let total):
            output.append(.error(.truncatedPES(pid: pid, expected: total, got: buffer.readableBytes)))
        case .unknown:
            output.append(.error(.truncatedPES(pid: pid, expected: 6, got: buffer.readableBytes)))
        }
        drop()
    }

    /// Discards the open PES (after a loss); collection restarts at the next unit start.
    mutating func drop() {
        if buffer.readableBytes > 0 { lastSize = max(buffer.readableBytes, 4096) }
        open = false
        length = .unknown
        buffer = ByteBuffer()
    }
}

/// The parsed header of one PES packet and its payload.
struct PESPacket: Sendable {
    var streamID: UInt8
    /// 33-bit PTS as read, if present.
    var pts: Int64?
    /// 33-bit DTS as read, if present.
    var dts: Int64?
    var payload: ByteBuffer

    /// Parses a complete PES; never reads outside `bytes`.
    init(parsing bytes: ByteBuffer, pid: Int) throws(TSDemuxError) {
        var reader = bytes
        guard let prefixHigh = reader.readInteger(as: UInt16.self), let prefixLow = reader.readInteger(as: UInt8.self),
            let streamID = reader.readInteger(as: UInt8.self), reader.readInteger(as: UInt16.self) != nil
        else {
            throw .truncatedPES(pid: pid, expected: 6, got: bytes.readableBytes)
        }
        let prefix = Int(prefixHigh) << 8 | Int(prefixLow)
        guard prefix == 1 else {
            throw .invalidPESHeader(pid: pid, field: "packet_start_code_prefix", value: prefix)
        }
        self.streamID = streamID
        // Streams without the optional PES header (ISO 13818-1 table 2-21).
        if [0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF].contains(streamID) {
            payload = reader
            return
        }
        guard let flags1 = reader.readInteger(as: UInt8.self), let flags2 = reader.readInteger(as: UInt8.self),
            let headerLength = reader.readInteger(as: UInt8.self).map(Int.init)
        else {
            throw .invalidPESHeader(pid: pid, field: "PES header length", value: bytes.readableBytes)
        }
        guard flags1 & 0xC0 == 0x80 else {
            throw .invalidPESHeader(pid: pid, field: "marker bits '10'", value: Int(flags1 >> 6))
        }
        let ptsDTSFlags = flags2 >> 6
        guard ptsDTSFlags != 1 else {
            throw .invalidPESHeader(pid: pid, field: "PTS_DTS_flags", value: 1)
        }
        let needed = ptsDTSFlags == 3 ? 10 : ptsDTSFlags == 2 ? 5 : 0
        guard headerLength >= needed, var header = reader.readSlice(length: headerLength) else {
            throw .invalidPESHeader(pid: pid, field: "PES_header_data_length", value: headerLength)
        }
        if ptsDTSFlags & 2 != 0 {
            pts = try Self.readTimestamp(&header, pid: pid, field: "PTS")
        }
        if ptsDTSFlags == 3 {
            dts = try Self.readTimestamp(&header, pid: pid, field: "DTS")
        }
        payload = reader
    }

    private static func readTimestamp(_ header: inout ByteBuffer, pid: Int, field: String) throws(TSDemuxError) -> Int64 {
        guard let bytes = header.readBytes(length: 5) else {
            throw .invalidPESHeader(pid: pid, field: "\(field) length", value: header.readableBytes)
        }
        guard bytes[0] & 1 == 1, bytes[2] & 1 == 1, bytes[4] & 1 == 1 else {
            throw .invalidPESHeader(pid: pid, field: "\(field) marker_bit", value: 0)
        }
        let high = Int64(bytes[0] >> 1) & 0x07
        let mid = Int64(bytes[1]) << 7 | Int64(bytes[2] >> 1)
        let low = Int64(bytes[3]) << 7 | Int64(bytes[4] >> 1)
        return high << 30 | mid << 15 | low
    }
}
