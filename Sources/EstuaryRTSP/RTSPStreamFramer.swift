import Foundation
import NIOCore

/// Splits what an RTSP server sends over TCP into responses and interleaved binary frames
/// (`$`, channel, 16-bit length, data; RFC 2326 §10.12), taking bytes in any split.
///
/// Guarantees: nothing is returned until whole; a header block over ``maximumHeaderBytes`` or a body
/// over ``maximumBodyBytes`` is ``RTSPError/malformedResponse(_:)``; requests the server sends us
/// (rare: `GET_PARAMETER`, `ANNOUNCE`) are returned as ``Item/serverRequest(_:)`` for the client to answer.
public struct RTSPStreamFramer: Sendable {
    public enum Item: Sendable, Equatable {
        case response(RTSPResponse)
        case interleaved(channel: UInt8, payload: ByteBuffer)
        /// A request from the server: its method and CSeq.
        case serverRequest(method: String, cseq: String?)
    }

    public static let maximumHeaderBytes = 64 << 10
    public static let maximumBodyBytes = 1 << 20
    private var buffer = ByteBuffer()

    public init() {}

    public mutating func feed(_ bytes: ByteBuffer) throws(RTSPError) -> [Item] {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
        var items: [Item] = []
        while let item = try next() { items.append(item) }
        buffer.discardReadBytes()
        return items
    }

    private mutating func next() throws(RTSPError) -> Item? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        if first == UInt8(ascii: "$") {
            guard buffer.readableBytes >= 4 else { return nil }
            let channel = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)!
            let length = Int(buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)!)
            guard buffer.readableBytes >= 4 + length else { return nil }
            buffer.moveReaderIndex(forwardBy: 4)
            return .interleaved(channel: channel, payload: buffer.readSlice(length: length)!)
        }
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            if buffer.readableBytes > Self.maximumHeaderBytes {
                throw .malformedResponse("header block over \(Self.maximumHeaderBytes) bytes")
            }
            return nil
        }
        let headerLength = end.upperBound - view.startIndex
        let text = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst()
        var headers: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedResponse("header line without ':': \(line.prefix(80))") }
            headers.append(
                (
                    String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                ))
        }
        let length = headers.first { $0.name.caseInsensitiveCompare("Content-Length") == .orderedSame }.map { Int($0.value) ?? -1 } ?? 0
        guard (0...Self.maximumBodyBytes).contains(length) else { throw .malformedResponse("Content-Length \(length) out of range") }
        guard buffer.readableBytes >= headerLength + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headerLength)
        let body = buffer.readSlice(length: length)!
        if statusLine.hasPrefix("RTSP/") {
            let parts = statusLine.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count >= 2, let code = Int(parts[1]) else { throw .malformedResponse("status line '\(statusLine.prefix(80))'") }
            return .response(RTSPResponse(code: code, reason: parts.count > 2 ? parts[2] : "", headers: headers, body: body))
        }
        let method = statusLine.split(separator: " ").first.map(String.init) ?? ""
        guard statusLine.hasSuffix("RTSP/1.0"), !method.isEmpty else {
            throw .malformedResponse("neither a response nor a request: '\(statusLine.prefix(80))'")
        }
        return .serverRequest(method: method, cseq: headers.first { $0.name.caseInsensitiveCompare("CSeq") == .orderedSame }?.value)
    }
}
