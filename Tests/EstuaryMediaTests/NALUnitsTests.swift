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

    /// The scan skips bytes where no start code can begin: on random streams rich in 0x00 and 0x01 (start codes at
    /// every offset, runs of zeros, a buffer that does not begin at index 0) it must cut exactly where a plain
    /// byte-by-byte search does.
    @Test func annexBSplitsRandomStreamsAsABytewiseSearchDoes() {
        func bytewise(_ bytes: [UInt8]) -> [[UInt8]] {
            var units: [[UInt8]] = []
            var start: Int?
            var index = 0
            func close(_ end: Int) {
                guard let first = start else { return }
                var last = end
                while last > first, bytes[last - 1] == 0 { last -= 1 }
                if last > first { units.append(Array(bytes[first..<last])) }
            }
            while index + 2 < bytes.count {
                if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1 {
                    close(index)
                    index += 3
                    start = index
                } else {
                    index += 1
                }
            }
            if let first = start, first < bytes.count { close(bytes.count) }
            return units
        }
        var generator = SeededGenerator(seed: 41)
        for round in 0..<3000 {
            let length = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<length).map { _ -> UInt8 in
                let roll = Int.random(in: 0..<10, using: &generator)
                return roll < 4 ? 0 : roll < 6 ? 1 : UInt8.random(in: 2...255, using: &generator)
            }
            var buffer = ByteBuffer(bytes: [0x00, 0x00, 0x01, 0x55] + bytes)
            buffer.moveReaderIndex(forwardBy: 4)  // the view starts inside the storage
            #expect(arrays(NALUnits.splitAnnexB(buffer)) == bytewise(bytes), "round \(round): \(bytes)")
        }
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
