import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@Suite struct NALUnitsTests {
    private func arrays(_ units: [ByteBuffer]) -> [[UInt8]] {
        units.map { Array($0.readableBytesView) }
    }

    @Test func splitsAnnexBWithThreeAndFourByteStartCodes() {
        let stream: [UInt8] =
            [0x00, 0x00, 0x00, 0x01] + Fixtures.h264MainSPS
            + [0x00, 0x00, 0x01] + Fixtures.h264MainPPS
            + [0x00, 0x00, 0x00, 0x01, 0x65, 0x88, 0x84, 0x00, 0x03, 0x21]
            + [0x00, 0x00, 0x01, 0x06, 0x05]
            + [0x00, 0x00, 0x00, 0x00]  // trailing zeros
        let units = NALUnits.splitAnnexB(ByteBuffer(bytes: stream))
        #expect(
            arrays(units) == [
                Fixtures.h264MainSPS, Fixtures.h264MainPPS, [0x65, 0x88, 0x84, 0x00, 0x03, 0x21], [0x06, 0x05],
            ])
        #expect(units.compactMap(NALUnits.h264Type) == [7, 8, 5, 6])
    }

    @Test func annexBIgnoresLeadingJunkAndEmptyUnits() {
        let stream: [UInt8] = [0xAB, 0xCD, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x09, 0xF0, 0x00, 0x00, 0x00, 0x01]
        #expect(arrays(NALUnits.splitAnnexB(ByteBuffer(bytes: stream))) == [[0x09, 0xF0]])
        #expect(NALUnits.splitAnnexB(ByteBuffer(bytes: [0x01, 0x02, 0x03])).isEmpty)
        #expect(NALUnits.splitAnnexB(ByteBuffer()).isEmpty)
    }

    @Test func annexBRoundTripsThroughWriteAnnexB() {
        let units = [Fixtures.h265VPS720, Fixtures.h265SPS720, Fixtures.h265PPS]
        var out = ByteBuffer()
        NALUnits.writeAnnexB(units, into: &out)
        let split = NALUnits.splitAnnexB(out)
        #expect(arrays(split) == units)
        #expect(split.compactMap(NALUnits.h265Type) == [32, 33, 34])

        var fromBuffers = ByteBuffer()
        NALUnits.writeAnnexB(split, into: &fromBuffers)
        #expect(fromBuffers == out)
    }

    @Test func splitsAtANonZeroReaderIndex() {
        var buffer = ByteBuffer(bytes: [0x00, 0x00, 0x01, 0x67, 0x00, 0x00, 0x01, 0x68, 0xCE])
        buffer.moveReaderIndex(forwardBy: 3)
        #expect(arrays(NALUnits.splitAnnexB(buffer)) == [[0x68, 0xCE]])
    }

    @Test func lengthPrefixedRoundTrips() throws {
        let units = [Fixtures.h264HighSPS, Fixtures.h264HighPPS, [0x65]].map { ByteBuffer(bytes: $0) }
        let joined = NALUnits.lengthPrefixed(units)
        #expect(joined.readableBytes == units.reduce(0) { $0 + $1.readableBytes + 4 })
        #expect(try NALUnits.splitLengthPrefixed(joined) == units)
        #expect(try NALUnits.splitLengthPrefixed(ByteBuffer()).isEmpty)
    }

    @Test func lengthPrefixedRejectsTruncation() {
        // A length running past the end.
        #expect(throws: MediaFormatError.truncated(what: "NAL unit of 5 bytes")) {
            try NALUnits.splitLengthPrefixed(ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x05, 0x65, 0x88]))
        }
        // A length prefix cut short after a whole unit.
        #expect(throws: MediaFormatError.truncated(what: "NAL length prefix")) {
            try NALUnits.splitLengthPrefixed(ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x01, 0x65, 0x00, 0x00]))
        }
    }
}
