import EstuaryMedia
import EstuaryTestSupport
import Testing

@Suite struct BitReaderTests {
    @Test func readsBitsMostSignificantFirstAcrossBytes() throws {
        var r = BitReader([0b1010_1100, 0b0101_0011, 0xFF])
        #expect(try r.readBits(1) == 1)
        #expect(try r.readBits(3) == 0b010)
        #expect(try r.readBits(6) == 0b1100_01)
        #expect(try r.readBits(6) == 0b01_0011)
        #expect(r.isByteAligned)
        #expect(try r.readBits(0) == 0)
        #expect(try r.readFlag())
        #expect(r.position == 17)
        #expect(r.bitsRemaining == 7)
        try r.skipBits(7)
        #expect(r.bitsRemaining == 0)
    }

    @Test func readsSixtyFourBits() throws {
        var r = BitReader([0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xF0])
        try r.skipBits(4)
        // Unaligned 64-bit read: the low nibble of each byte then the high nibble of the next.
        #expect(try r.readBits(64) == 0x0010_2030_4050_607F)
        #expect(r.bitsRemaining == 4)
    }

    @Test func readsExpGolombCodes() throws {
        // ue(v): 1 → 0, 010 → 1, 011 → 2, 00100 → 3, 00111 → 6, 0001000 → 7.
        var r = BitReader([0b1010_0110, 0b0100_0011, 0b1000_1000])
        #expect(try r.readUE() == 0)
        #expect(try r.readUE() == 1)
        #expect(try r.readUE() == 2)
        #expect(try r.readUE() == 3)
        #expect(try r.readUE() == 6)
        #expect(try r.readUE() == 7)
        #expect(r.bitsRemaining == 0)

        // se(v): codes 0…4 are 0, 1, −1, 2, −2.
        var s = BitReader([0b1010_0110, 0b0100_0010, 0b1000_0000])
        #expect(try s.readSE() == 0)
        #expect(try s.readSE() == 1)
        #expect(try s.readSE() == -1)
        #expect(try s.readSE() == 2)
        #expect(try s.readSE() == -2)
    }

    @Test func readsTheLargestExpGolombCode() throws {
        // 32 zeros, a one, 32 ones: 2^33 − 2.
        var bits = [UInt8](repeating: 0, count: 4) + [0x80 | 0x7F, 0xFF, 0xFF, 0xFF, 0x80]
        var r = BitReader(bits)
        #expect(try r.readUE() == (1 << 33) - 2)
        // 33 leading zeros is more than any valid code.
        bits = [UInt8](repeating: 0, count: 5) + [0x40]
        var tooLong = BitReader(bits, context: "test")
        #expect(throws: MediaFormatError.invalidField(what: "test exp-Golomb prefix length", value: 33)) {
            try tooLong.readUE()
        }
    }

    @Test func throwsTruncatedAndKeepsPositionAtTheEnd() throws {
        var r = BitReader([0xFF, 0x00], context: "X")
        try r.skipBits(3)
        #expect(throws: MediaFormatError.truncated(what: "X field")) { try r.readBits(14, field: "field") }
        #expect(r.position == 3)
        // 0x00 after the ones: an exp-Golomb prefix that never ends.
        try r.skipBits(5)
        #expect(throws: MediaFormatError.truncated(what: "X")) { try r.readUE() }
        #expect(r.position == 8)
        // A complete prefix whose suffix is cut off.
        var cut = BitReader([0b0000_0001])
        #expect(throws: MediaFormatError.truncated(what: "bit string")) { try cut.readUE() }
        #expect(cut.position == 0)
        #expect(throws: MediaFormatError.self) { try r.skipBits(9) }
        #expect(throws: MediaFormatError.self) { try r.readBits(65) }
        #expect(throws: MediaFormatError.self) { try r.readBits(-1) }
        #expect(throws: MediaFormatError.self) { try r.skipBits(-1) }
        #expect(r.position == 8)
    }

    @Test func readsBytesAlignedAndUnaligned() throws {
        var r = BitReader([0x12, 0x34, 0x56, 0x78])
        #expect(try r.readBytes(2) == [0x12, 0x34])
        try r.skipBits(4)
        #expect(try r.readBytes(1) == [0x67])
        #expect(throws: MediaFormatError.self) { try r.readBytes(1) }
        #expect(try r.readBytes(0) == [])
    }

    @Test func unescapesEmulationPrevention() {
        #expect(RBSP.unescape([0x00, 0x00, 0x03, 0x01]) == [0x00, 0x00, 0x01])
        #expect(RBSP.unescape([0x00, 0x00, 0x03, 0x00, 0x00, 0x03]) == [0x00, 0x00, 0x00, 0x00])
        // The zeros after an escape start a fresh count.
        #expect(RBSP.unescape([0x00, 0x00, 0x03, 0x03]) == [0x00, 0x00, 0x03])
        #expect(RBSP.unescape([0x00, 0x03, 0x00, 0x00, 0x00, 0x03]) == [0x00, 0x03, 0x00, 0x00, 0x00])
        #expect(RBSP.unescape([0x01, 0x03, 0x00, 0x03]) == [0x01, 0x03, 0x00, 0x03])
        #expect(RBSP.unescape([]) == [])
        #expect(RBSP.unescape(Fixtures.h264MainSPS).count == Fixtures.h264MainSPS.count - 1)
    }
}
