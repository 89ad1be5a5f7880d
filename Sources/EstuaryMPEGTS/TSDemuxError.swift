/// Something wrong in an MPEG-TS input, naming the PID, field and value involved.
///
/// The demuxer reports each problem once, where it is found, and carries on: the damaged
/// PES or section is dropped, and video resumes at the next keyframe.
public enum TSDemuxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte stream was out of packet alignment; `skippedBytes` bytes were thrown away
    /// before two sync bytes 188 bytes apart were found again (or the input ended).
    case lostSync(skippedBytes: Int)
    /// The input ended with `bytes` bytes of a packet that never completed.
    case truncatedPacket(bytes: Int)
    /// A packet's `continuity_counter` skipped: at least one packet of `pid` was lost.
    case continuityError(pid: Int, expected: Int, got: Int)
    /// A packet had `transport_error_indicator` set; it was dropped.
    case transportError(pid: Int)
    /// A packet had `transport_scrambling_control` set; scrambled payloads cannot be read.
    case scrambled(pid: Int)
    /// An `adaptation_field_length` larger than the packet allows.
    case invalidAdaptationField(pid: Int, length: Int)
    /// A PES header field held a value the format does not allow.
    case invalidPESHeader(pid: Int, field: String, value: Int)
    /// A bounded PES ended (a new one started, or the input ended) before its declared length.
    case truncatedPES(pid: Int, expected: Int, got: Int)
    /// A PES grew past the size cap; it was dropped.
    case pesTooLarge(pid: Int, size: Int, limit: Int)
    /// A PES of an elementary stream carried no PTS, so its frames could not be timed.
    case missingPTS(pid: Int)
    /// A PSI section (PAT or PMT) field held a value the format does not allow.
    case invalidSection(pid: Int, field: String, value: Int)
    /// A PSI section's CRC-32 did not match its contents.
    case crcMismatch(pid: Int, tableID: Int, expected: UInt32, computed: UInt32)
    /// An ADTS frame in an AAC PES could not be read; the rest of that PES was dropped.
    case invalidADTS(pid: Int, reason: String)
    /// Video parameter sets (SPS/PPS/VPS) could not be turned into a decoder configuration.
    case invalidParameterSets(pid: Int, reason: String)

    /// A one-line account of the problem, naming the PID (hex), field and values involved.
    public var description: String {
        switch self {
        case .lostSync(let skipped):
            "lost MPEG-TS sync: skipped \(skipped) bytes"
        case .truncatedPacket(let bytes):
            "truncated MPEG-TS packet: input ended \(bytes) bytes into a 188-byte packet"
        case .continuityError(let pid, let expected, let got):
            "continuity error on PID \(hex(pid)): expected counter \(expected), got \(got)"
        case .transportError(let pid):
            "transport_error_indicator set on PID \(hex(pid))"
        case .scrambled(let pid):
            "scrambled packet on PID \(hex(pid))"
        case .invalidAdaptationField(let pid, let length):
            "invalid adaptation_field_length \(length) on PID \(hex(pid))"
        case .invalidPESHeader(let pid, let field, let value):
            "invalid PES header on PID \(hex(pid)): \(field) = \(value)"
        case .truncatedPES(let pid, let expected, let got):
            "truncated PES on PID \(hex(pid)): declared \(expected) bytes, got \(got)"
        case .pesTooLarge(let pid, let size, let limit):
            "PES on PID \(hex(pid)) too large: \(size) bytes exceeds the \(limit)-byte limit"
        case .missingPTS(let pid):
            "PES on PID \(hex(pid)) has no PTS"
        case .invalidSection(let pid, let field, let value):
            "invalid PSI section on PID \(hex(pid)): \(field) = \(value)"
        case .crcMismatch(let pid, let tableID, let expected, let computed):
            "CRC mismatch in table \(hex(tableID)) on PID \(hex(pid)): "
                + "section says \(hex32(expected)), computed \(hex32(computed))"
        case .invalidADTS(let pid, let reason):
            "invalid ADTS frame on PID \(hex(pid)): \(reason)"
        case .invalidParameterSets(let pid, let reason):
            "invalid video parameter sets on PID \(hex(pid)): \(reason)"
        }
    }
}

private func hex(_ value: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

private func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
