import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

@testable import EstuaryRTMP

@Suite("RTMP protocol")
struct RTMPProtocolTests {
    @Test("AMF0 values survive encode and decode; truncated or unknown values are named errors")
    func amf0() throws {
        let values: [AMF0Value] = [
            .string("connect"), .number(1),
            .object([.init("app", .string("live")), .init("tcUrl", .string("rtmp://h/live")), .init("fpad", .boolean(false))]),
            .null, .undefined, .ecmaArray([.init("width", .number(1280))]), .strictArray([.number(1), .string("x")]),
            .date(1_700_000_000_000),
        ]
        var buffer = ByteBuffer()
        for value in values { value.encode(into: &buffer) }
        #expect(try AMF0Value.decodeAll(buffer) == values)
        #expect(values[2]["app"]?.stringValue == "live")

        var truncated = ByteBuffer(bytes: [0x02, 0x00, 0x10, 0x41])
        #expect(throws: RTMPError.malformedAMF("truncated string")) { try AMF0Value.decode(from: &truncated) }
        var unknown = ByteBuffer(bytes: [0x11])
        #expect(throws: RTMPError.malformedAMF("unsupported type marker 0x11")) { try AMF0Value.decode(from: &unknown) }
        var unterminated = ByteBuffer(bytes: [0x03, 0x00, 0x01, 0x61, 0x05, 0x00, 0x00, 0x00])
        #expect(throws: RTMPError.malformedAMF("object without its end marker")) { try AMF0Value.decode(from: &unterminated) }
    }

    @Test("messages split into chunks come back whole whatever the byte split, across a chunk size change")
    func chunkRoundTrip() throws {
        var generator = SeededGenerator(seed: 7)
        var messages: [RTMPMessage] = []
        for (index, size) in [10, 300, 1_000, 128, 129, 5_000].enumerated() {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            messages.append(
                RTMPMessage(
                    typeID: index.isMultiple(of: 2) ? 9 : 8, streamID: 1, timestamp: UInt32(index * 40), payload: ByteBuffer(bytes: bytes)))
        }
        var wire = ByteBuffer()
        var encoder = RTMPChunkEncoder(chunkSize: 128)
        for message in messages.prefix(3) { encoder.encode(message, chunkStream: 6, into: &wire) }
        var setSize = ByteBuffer()
        setSize.writeInteger(UInt32(200))
        let chunkSizeMessage = RTMPMessage(typeID: RTMPMessage.Kind.setChunkSize, streamID: 0, timestamp: 0, payload: setSize)
        encoder.encode(chunkSizeMessage, chunkStream: 2, into: &wire)
        encoder.chunkSize = 200
        for message in messages.dropFirst(3) { encoder.encode(message, chunkStream: 7, into: &wire) }
        // An extended timestamp (≥ 0xFFFFFF) on a message longer than one chunk.
        let late = RTMPMessage(typeID: 9, streamID: 1, timestamp: 0x0123_4567, payload: ByteBuffer(repeating: 0xAB, count: 450))
        encoder.encode(late, chunkStream: 7, into: &wire)

        for _ in 0..<20 {
            var decoder = RTMPChunkDecoder()
            var decoded: [RTMPMessage] = []
            var rest = wire
            var pending = ByteBuffer()
            while rest.readableBytes > 0 {
                var piece = rest.readSlice(length: min(rest.readableBytes, Int.random(in: 1...700, using: &generator)))!
                pending.writeBuffer(&piece)
                decoded += try decoder.decode(&pending)
                pending.discardReadBytes()
            }
            #expect(decoded == Array(messages.prefix(3)) + [chunkSizeMessage] + Array(messages.dropFirst(3)) + [late])
            #expect(decoder.chunkSize == 200)
        }
    }

    @Test("type 1, 2 and 3 headers add their deltas; a chunk stream that never started is refused")
    func timestampDeltas() throws {
        var wire = ByteBuffer()
        // Type 0 on csid 4: timestamp 1000, length 2, video, stream 1.
        wire.writeBytes([0x04, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x02, 0x09, 0x01, 0x00, 0x00, 0x00, 0xAA, 0xBB])
        // Type 2 (delta 40), same length: ts 1040.
        wire.writeBytes([0x84, 0x00, 0x00, 0x28, 0xCC, 0xDD])
        // Type 3 starting a new message: the delta again, ts 1080.
        wire.writeBytes([0xC4, 0xEE, 0xFF])
        // Type 1 (delta 20, length 1, audio): ts 1100.
        wire.writeBytes([0x44, 0x00, 0x00, 0x14, 0x00, 0x00, 0x01, 0x08, 0x11])
        var decoder = RTMPChunkDecoder()
        let messages = try decoder.decode(&wire)
        #expect(messages.map(\.timestamp) == [1_000, 1_040, 1_080, 1_100])
        #expect(messages.map(\.typeID) == [9, 9, 9, 8])
        #expect(messages[2].payload == ByteBuffer(bytes: [0xEE, 0xFF]))

        var orphan = ByteBuffer(bytes: [0x45, 0x00, 0x00, 0x14, 0x00, 0x00, 0x01, 0x08, 0x11])
        var fresh = RTMPChunkDecoder()
        #expect(throws: RTMPError.malformedChunk("chunk stream 5 continues (header type 1) without having started")) {
            try fresh.decode(&orphan)
        }
        var huge = ByteBuffer(bytes: [0x04, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x09, 0x01, 0x00, 0x00, 0x00])
        #expect(throws: RTMPError.self) { try fresh.decode(&huge) }
    }

    @Test("a publisher's handshake, connect, createStream and publish reach an accepted publication carrying media")
    func sessionFlow() throws {
        var session = RTMPSession()
        var client = ByteBuffer()
        client.writeInteger(UInt8(3))
        let c1 = (0..<1536).map { UInt8($0 % 251) }
        client.writeBytes(c1)
        var outputs = try session.receive(client)
        guard case .send(var handshake) = outputs.first else {
            Issue.record("no S0/S1/S2")
            return
        }
        #expect(handshake.readableBytes == 1 + 2 * 1536)
        #expect(handshake.readInteger(as: UInt8.self) == 3)
        handshake.moveReaderIndex(forwardBy: 1536)
        #expect(handshake.readBytes(length: 1536) == c1, "S2 echoes C1")

        var commands = ByteBuffer(repeating: 0, count: 1536)
        let encoder = RTMPChunkEncoder()
        func command(_ values: [AMF0Value], stream: UInt32 = 0) {
            var payload = ByteBuffer()
            for value in values { value.encode(into: &payload) }
            encoder.encode(RTMPMessage(typeID: 20, streamID: stream, timestamp: 0, payload: payload), chunkStream: 3, into: &commands)
        }
        command([
            .string("connect"), .number(1), .object([.init("app", .string("live?password=s3cret")), .init("type", .string("nonprivate"))]),
        ])
        command([.string("releaseStream"), .number(2), .null, .string("cam1")])
        command([.string("createStream"), .number(3), .null])
        command([.string("publish"), .number(4), .null, .string("cam1?token=a%20b"), .string("live")], stream: 1)
        outputs = try session.receive(commands)
        let publishes = outputs.compactMap { output -> [String]? in
            if case .publish(let app, let name, let query) = output { return [app, name, query["password"] ?? "", query["token"] ?? ""] }
            return nil
        }
        #expect(publishes == [["live", "cam1", "s3cret", "a b"]])
        #expect(outputs.filter { if case .send = $0 { true } else { false } }.count == 3, "answers to connect, releaseStream, createStream")
        #expect(!session.isPublishing)

        var media = ByteBuffer()
        encoder.encode(
            RTMPMessage(typeID: 9, streamID: 1, timestamp: 0, payload: ByteBuffer(bytes: [0x17, 0x00])), chunkStream: 6, into: &media)
        #expect(try session.receive(media).isEmpty, "media before the answer is not passed on")
        let answer = session.accept()
        #expect(answer.readableBytes > 0)
        #expect(session.isPublishing)
        outputs = try session.receive(media)
        #expect(outputs.count == 1)
        var close = ByteBuffer()
        var payload = ByteBuffer()
        for value: AMF0Value in [.string("deleteStream"), .number(5), .null, .number(1)] { value.encode(into: &payload) }
        encoder.encode(RTMPMessage(typeID: 20, streamID: 0, timestamp: 0, payload: payload), chunkStream: 3, into: &close)
        #expect(try session.receive(close) == [.unpublish])
    }

    @Test("a handshake with another version is refused")
    func badVersion() throws {
        var session = RTMPSession()
        var client = ByteBuffer(bytes: [6])
        client.writeRepeatingByte(0, count: 1536)
        #expect(throws: RTMPError.unsupportedVersion(6)) { try session.receive(client) }
    }
}
