import NIOCore

/// Reassembles PSI sections (PAT, PMT) of one PID from transport-packet payloads.
///
/// Honors `pointer_field`, sections spanning packets, several sections per packet and
/// 0xFF stuffing. A section is at most 1024 bytes, so memory stays bounded.
struct SectionAssembler: Sendable {
    let pid: Int
    private var buffer: [UInt8] = []
    private var open = false

    init(pid: Int) {
        self.pid = pid
    }

    /// Adds one packet's payload; appends complete sections (CRC not yet checked) and errors.
    mutating func append(
        _ payload: ByteBuffer, unitStart: Bool, sections: inout [[UInt8]], errors: inout [TSDemuxError]
    ) {
        var data = payload
        if unitStart {
            guard let pointer = data.readInteger(as: UInt8.self).map(Int.init) else { return }
            guard let tail = data.readBytes(length: pointer) else {
                errors.append(.invalidSection(pid: pid, field: "pointer_field", value: pointer))
                drop()
                return
            }
            if open {
                buffer += tail
                extract(sections: &sections, errors: &errors)
            }
            buffer = []
            open = true
        } else if !open {
            return
        }
        buffer += data.readableBytesView
        extract(sections: &sections, errors: &errors)
    }

    /// Discards the section being collected (after a loss).
    mutating func drop() {
        buffer = []
        open = false
    }

    private mutating func extract(sections: inout [[UInt8]], errors: inout [TSDemuxError]) {
        while open, let first = buffer.first {
            if first == 0xFF {
                drop()
                return
            }
            guard buffer.count >= 3 else { return }
            let sectionLength = Int(buffer[1] & 0x0F) << 8 | Int(buffer[2])
            guard sectionLength <= 1021 else {
                errors.append(.invalidSection(pid: pid, field: "section_length", value: sectionLength))
                drop()
                return
            }
            let total = 3 + sectionLength
            guard buffer.count >= total else { return }
            sections.append(Array(buffer[0..<total]))
            buffer.removeFirst(total)
            if buffer.isEmpty { open = false }
        }
    }
}

/// A long-form PSI section whose CRC has been checked.
struct PSISection: Sendable, Equatable {
    var tableID: UInt8
    var tableIDExtension: Int
    var version: Int
    var isCurrent: Bool
    var sectionNumber: Int
    /// The bytes between the 8-byte section header and the CRC.
    var body: [UInt8]

    /// Checks the syntax indicator, length and CRC of one section.
    init(parsing bytes: [UInt8], pid: Int) throws(TSDemuxError) {
        guard bytes.count >= 12 else {
            throw .invalidSection(pid: pid, field: "section_length", value: bytes.count - 3)
        }
        guard bytes[1] & 0x80 != 0 else {
            throw .invalidSection(pid: pid, field: "section_syntax_indicator", value: 0)
        }
        let crcStart = bytes.count - 4
        let stored = bytes[crcStart...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let computed = MPEGTSCRC32.checksum(of: bytes[0..<crcStart])
        guard stored == computed else {
            throw .crcMismatch(pid: pid, tableID: Int(bytes[0]), expected: stored, computed: computed)
        }
        tableID = bytes[0]
        tableIDExtension = Int(bytes[3]) << 8 | Int(bytes[4])
        version = Int(bytes[5] >> 1) & 0x1F
        isCurrent = bytes[5] & 0x01 != 0
        sectionNumber = Int(bytes[6])
        body = Array(bytes[8..<crcStart])
    }

    /// The PMT PID of the first program (program_number ≠ 0) of a PAT section, if any.
    func firstProgramPMTPID() -> Int? {
        var reader = SafeReader(body)
        while let program = reader.u16(), let pid = reader.u16() {
            if program != 0 { return pid & 0x1FFF }
        }
        return nil
    }

    /// The elementary streams (`stream_type`, PID) of a PMT section, in order.
    func pmtStreams(pid: Int) throws(TSDemuxError) -> [(streamType: UInt8, pid: Int)] {
        var reader = SafeReader(body)
        guard reader.u16() != nil, let infoLength = reader.u16().map({ $0 & 0x0FFF }), reader.skip(infoLength) else {
            throw .invalidSection(pid: pid, field: "program_info_length", value: body.count)
        }
        var streams: [(streamType: UInt8, pid: Int)] = []
        while !reader.isAtEnd {
            guard let type = reader.u8(), let esPID = reader.u16(), let esInfo = reader.u16().map({ $0 & 0x0FFF }),
                reader.skip(esInfo)
            else {
                throw .invalidSection(pid: pid, field: "ES_info_length", value: reader.remaining)
            }
            streams.append((type, esPID & 0x1FFF))
        }
        return streams
    }
}

/// Bounds-checked big-endian reads from a byte array.
struct SafeReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { max(0, bytes.count - offset) }

    mutating func u8() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> Int? {
        guard offset + 2 <= bytes.count else { return nil }
        defer { offset += 2 }
        return Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, offset + count <= bytes.count else { return false }
        offset += count
        return true
    }
}
