import EstuaryDVR
import EstuaryLive
import EstuaryTestSupport
import Foundation
import NIOCore

/// A box of `type` with `payload` bytes of `fill`.
func box(_ type: String, payload: Int, fill: UInt8 = 0xAB) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(8 + payload))
    buffer.writeString(type)
    buffer.writeRepeatingByte(fill, count: payload)
    return buffer
}

/// An init segment stand-in: `ftyp` + `moov` (the archive treats it as opaque bytes).
func fakeInit(_ variant: UInt8 = 1) -> ByteBuffer {
    var buffer = box("ftyp", payload: 16, fill: variant)
    var moov = box("moov", payload: 200, fill: variant)
    buffer.writeBuffer(&moov)
    return buffer
}

/// A fragment stand-in: `[styp] moof mdat`.
func fakeFragment(keyframe: Bool, size: Int = 3000, fill: UInt8 = 0x11) -> ByteBuffer {
    var buffer = keyframe ? box("styp", payload: 8) : ByteBuffer()
    var moof = box("moof", payload: 100, fill: fill)
    var mdat = box("mdat", payload: size, fill: fill)
    buffer.writeBuffer(&moof)
    buffer.writeBuffer(&mdat)
    return buffer
}

/// A media chunk of `durationMs` at UTC `ms`.
func mediaChunk(atMs ms: Int64, durationMs: Int64 = 200, keyframe: Bool, fill: UInt8 = 0x11) -> LiveChunk {
    LiveChunk(
        kind: .media, bytes: fakeFragment(keyframe: keyframe, fill: fill), startsSegment: keyframe, decodeTime: ms * 90,
        duration: durationMs * 90, wallClockMicros: ms * 1000)
}

func headerChunk(_ variant: UInt8 = 1) -> LiveChunk {
    LiveChunk(kind: .header, bytes: fakeInit(variant), startsSegment: false, decodeTime: 0, duration: 0, wallClockMicros: 0)
}

/// Writes `count` segments of `durationMs` starting at `startMs` (contiguous) into `archive`.
@discardableResult
func writeSegments(
    _ archive: StreamArchive, count: Int, startMs: Int64, durationMs: Int64 = 4000, size: Int = 3000
) throws
    -> [SegmentRecord]
{
    let initID = try archive.storeInit(fakeInit())
    return try (0..<count).map { index in
        let start = startMs + Int64(index) * durationMs
        return try archive.write(
            fragments: [fakeFragment(keyframe: true, size: size, fill: UInt8(truncatingIfNeeded: start / 1000))], startMs: start,
            durationMs: durationMs, initID: initID)
    }
}

/// The sha256 of a file, hex.
func fileSHA256(_ path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return sha256Hex(Array(data))
}
