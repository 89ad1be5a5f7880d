/// Raw byte sequence payloads: the bytes of a NAL unit with the emulation-prevention bytes
/// taken out (H.264 §7.4.1, H.265 §7.4.2).
public enum RBSP: Sendable {
    /// Removes every emulation-prevention byte: the `0x03` of each `00 00 03` sequence.
    ///
    /// Guarantees: the result is `bytes` minus exactly those `0x03` bytes, in order; a `0x03`
    /// counts as emulation prevention only after two zero bytes that are not themselves part
    /// of an earlier `00 00 03`. Never traps; bytes without such sequences come back unchanged.
    public static func unescape(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var zeros = 0
        for byte in bytes {
            if zeros >= 2, byte == 0x03 {
                zeros = 0
                continue
            }
            out.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return out
    }
}
