import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@testable import EstuaryRTMP

/// Seeded fuzzing of everything an RTMP publisher can send: chunk streams, AMF0 commands, FLV media bodies.
/// A case passes when the parser returns or throws an ``RTMPError`` (never traps) and holds bounded memory.
@Suite("RTMP fuzz")
struct RTMPFuzzTests {
    /// Valid chunk streams to mutate: commands and media on several chunk streams, with a chunk size change.
    static func samples() -> [[UInt8]] {
        var samples: [[UInt8]] = []
        var encoder = RTMPChunkEncoder(chunkSize: 128)
        var out = ByteBuffer()
        var command = ByteBuffer()
        for value: AMF0Value in [
            .string("connect"), .number(1), .object([.init("app", .string("live")), .init("flashVer", .string("FMLE/3.0"))]),
        ] { value.encode(into: &command) }
        encoder.encode(RTMPMessage(typeID: 20, streamID: 0, timestamp: 0, payload: command), chunkStream: 3, into: &out)
        samples.append(Array(buffer: out))
        var media = ByteBuffer()
        encoder.encode(
            RTMPMessage(
                typeID: 9, streamID: 1, timestamp: 40, payload: ByteBuffer(bytes: [0x17, 0x00, 0, 0, 0] + Fixtures.h264BaselineAvcC)),
            chunkStream: 6, into: &media)
        encoder.encode(
            RTMPMessage(typeID: 9, streamID: 1, timestamp: 80, payload: ByteBuffer(repeating: 0x41, count: 300)), chunkStream: 6,
            into: &media)
        var size = ByteBuffer()
        size.writeInteger(UInt32(64))
        encoder.encode(RTMPMessage(typeID: 1, streamID: 0, timestamp: 0, payload: size), chunkStream: 2, into: &media)
        encoder.chunkSize = 64
        encoder.encode(
            RTMPMessage(typeID: 8, streamID: 1, timestamp: 0x0100_0000, payload: ByteBuffer(bytes: [0xAF, 0x00] + Fixtures.aac44100Mono)),
            chunkStream: 4, into: &media)
        samples.append(Array(buffer: media))
        // Hand-written type 1/2/3 headers.
        samples.append([
            0x04, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x02, 0x09, 0x01, 0x00, 0x00, 0x00, 0xAA, 0xBB, 0x84, 0x00, 0x00, 0x28, 0xCC, 0xDD, 0xC4,
            0xEE, 0xFF,
        ])
        return samples
    }

    @Test("100,000 mutated and random chunk streams: decoded or refused, memory bounded")
    func chunkStreams() {
        var mutator = Mutator(seed: 0x5EED_0001)
        let samples = Self.samples()
        var refused = 0
        for index in 0..<100_000 {
            let bytes = index % 10 == 0 ? mutator.randomBytes(upTo: 600) : mutator.mutate(samples[index % samples.count])
            var decoder = RTMPChunkDecoder()
            var pending = ByteBuffer()
            do {
                for var piece in mutator.split(bytes) {
                    pending.writeBuffer(&piece)
                    _ = try decoder.decode(&pending)
                    pending.discardReadBytes()
                }
            } catch {
                refused += 1
            }
            #expect(decoder.bufferedBytes <= RTMPChunkDecoder.maximumBufferedBytes)
            #expect(pending.readableBytes <= bytes.count)
        }
        #expect(refused > 0, "some mutations must be refused, or the fuzzer is not reaching the checks")
    }

    @Test("100,000 mutated and random AMF0 payloads: decoded or refused")
    func amf0() {
        var mutator = Mutator(seed: 0x5EED_0002)
        var sample = ByteBuffer()
        for value: AMF0Value in [
            .string("publish"), .number(5), .null, .string("cam1?password=x"),
            .ecmaArray([.init("width", .number(1280)), .init("audiocodecid", .number(10))]), .strictArray([.number(1), .boolean(true)]),
            .date(1), .undefined,
        ] { value.encode(into: &sample) }
        let bytes = Array(buffer: sample)
        var decoded = 0
        for index in 0..<100_000 {
            let input = index % 10 == 0 ? mutator.randomBytes(upTo: 200) : mutator.mutate(bytes)
            if (try? AMF0Value.decodeAll(ByteBuffer(bytes: input))) != nil { decoded += 1 }
        }
        #expect(decoded > 0)
    }

    @Test("100,000 mutated FLV media bodies: tracks, frames or named errors, never a trap")
    func mediaBodies() {
        var mutator = Mutator(seed: 0x5EED_0003)
        var unit: [UInt8] = [0, 0, 0, 3, 0x65, 0x88, 0x84]
        unit += [0, 0, 0, 2, 0x09, 0xF0]
        let samples: [(UInt8, [UInt8])] = [
            (9, [0x17, 0x00, 0, 0, 0] + Fixtures.h264BaselineAvcC), (9, [0x17, 0x01, 0, 0, 0x28] + unit),
            (9, [0x90] + Array("hvc1".utf8) + [0x01, 0x02]), (8, [0xAF, 0x00] + Fixtures.aac48000Stereo), (8, [0xAF, 0x01, 0x21, 0x10]),
            (
                18,
                [0x02, 0x00, 0x0A] + Array("onMetaData".utf8) + [0x08, 0, 0, 0, 1, 0x00, 0x0C] + Array("audiocodecid".utf8) + [
                    0x00, 0x40, 0x24, 0, 0, 0, 0, 0, 0, 0, 0, 0x09,
                ]
            ),
        ]
        var demuxer = RTMPMediaDemuxer()
        var outputs = 0
        for index in 0..<100_000 {
            let (type, body) = samples[index % samples.count]
            let message = RTMPMessage(
                typeID: type, streamID: 1, timestamp: UInt32(index * 40), payload: ByteBuffer(bytes: mutator.mutate(body)))
            outputs += demuxer.receive(message, arrivalMicros: 0).count
            if index % 5_000 == 0 { demuxer = RTMPMediaDemuxer() }
        }
        #expect(outputs > 0, "mutations near valid bodies must still produce tracks, frames or errors")
    }

    @Test("10,000 whole sessions with mutated command streams after a valid handshake")
    func sessions() {
        var mutator = Mutator(seed: 0x5EED_0004)
        var handshake = ByteBuffer(bytes: [3])
        handshake.writeRepeatingByte(7, count: 2 * 1536)
        let samples = Self.samples()
        var answered = 0
        var refused = 0
        for index in 0..<10_000 {
            var session = RTMPSession()
            do {
                _ = try session.receive(handshake)
                for piece in mutator.split(mutator.mutate(samples[index % samples.count])) {
                    answered += try session.receive(piece).count
                }
            } catch {
                refused += 1
            }
        }
        #expect(answered > 0 && refused > 0, "answered \(answered), refused \(refused)")
    }
}
