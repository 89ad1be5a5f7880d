import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@Suite struct ADTSHeaderTests {
    @Test func parsesAnFFmpegHeader() throws {
        let header = try ADTSHeader(parsing: ByteBuffer(bytes: Fixtures.adts44100Mono))
        #expect(header == ADTSHeader(objectType: 2, samplingFrequencyIndex: 4, channelConfiguration: 1, frameLength: 265))
        #expect(header.headerLength == 7)
        #expect(header.config == (try AACConfig(audioSpecificConfig: [0x12, 0x08])))
    }

    @Test(arguments: [(2, 4, 1, 258), (2, 3, 2, 0), (1, 11, 6, 8184), (4, 0, 7, 1000)])
    func writeThenParseRoundTrips(objectType: Int, frequencyIndex: Int, channels: Int, payloadLength: Int) throws {
        var buffer = ByteBuffer()
        ADTSHeader.write(
            objectType: objectType, samplingFrequencyIndex: frequencyIndex, channelConfiguration: channels,
            payloadLength: payloadLength, into: &buffer)
        #expect(buffer.readableBytes == 7)
        let header = try ADTSHeader(parsing: buffer)
        #expect(
            header
                == ADTSHeader(
                    objectType: objectType, samplingFrequencyIndex: frequencyIndex, channelConfiguration: channels,
                    frameLength: payloadLength + 7))
        #expect(buffer.readableBytes == 7)  // parsing does not consume
    }

    @Test func writesTheSameBytesFFmpegDoes() {
        var buffer = ByteBuffer()
        ADTSHeader.write(objectType: 2, samplingFrequencyIndex: 4, channelConfiguration: 1, payloadLength: 258, into: &buffer)
        #expect(Array(buffer.readableBytesView) == Fixtures.adts44100Mono)
    }

    @Test func parsesAtTheReaderIndex() throws {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB] + Fixtures.adts44100Mono)
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try ADTSHeader(parsing: buffer).frameLength == 265)
    }

    @Test func rejectsBadHeaders() {
        var bad = Fixtures.adts44100Mono
        bad[1] = 0xE1
        #expect(throws: MediaFormatError.invalidField(what: "ADTS syncword", value: 0xFFE1)) {
            try ADTSHeader(parsing: ByteBuffer(bytes: bad))
        }
        bad = Fixtures.adts44100Mono
        bad[0] = 0xFE
        #expect(throws: MediaFormatError.invalidField(what: "ADTS syncword", value: 0xFEF1)) {
            try ADTSHeader(parsing: ByteBuffer(bytes: bad))
        }
        #expect(throws: MediaFormatError.truncated(what: "ADTS header")) {
            try ADTSHeader(parsing: ByteBuffer(bytes: Fixtures.adts44100Mono.prefix(6)))
        }
        bad = Fixtures.adts44100Mono
        bad[2] = 0x50 | 0x34  // samplingFrequencyIndex 13
        #expect(throws: MediaFormatError.invalidField(what: "ADTS sampling frequency index", value: 13)) {
            try ADTSHeader(parsing: ByteBuffer(bytes: bad))
        }
        bad = [0xFF, 0xF1, 0x50, 0x40, 0x00, 0x1F, 0xFC]  // frame length 0
        #expect(throws: MediaFormatError.invalidField(what: "ADTS frame length", value: 0)) {
            try ADTSHeader(parsing: ByteBuffer(bytes: bad))
        }
    }
}
